/**
 * The job server's scheduling, with no sockets: jobs, function queues,
 * unique coalescing, priorities, epoch jobs, requeues and their cap,
 * maxqueue, wake-ups, cancel, status, and the journal of background jobs.
 * It answers through each session's Connection (connection.ts), so it runs
 * the same behind the JobServer's sockets as in a test that records packets.
 *
 *   submit ──► same unique queued or running? ──► attach: same handle
 *          └─► maxqueue ──► Job (+ journal if background) ──► JOB_CREATED
 *                              ├─ epoch later ──► timer ──► due ──┐
 *                              └────────────────────────────────► queue[priority] ──► NOOP to a sleeper (wake-ups.ts)
 *   grab ──► highest priority across the worker's functions ──► JOB_ASSIGN / _UNIQ / _ALL (+ CAN_DO_TIMEOUT timer)
 *   work ──► forwarded to the job's clients; COMPLETE / FAIL / EXCEPTION end the job
 *   worker lost, CAN_DO_TIMEOUT ──► release: front of its queue again, or WORK_FAIL past jobRetries
 *   client lost ──► its jobs lose a client; one nobody waits for is dropped when a worker would take it
 */
import { PacketType } from "../gearman/packet-types.js";
import { splitArgs, type Packet } from "../gearman/packet.js";
import { Job, FunctionQueue, Priority, Session, uniqueKey } from "./scheduler-state.js";
import type { Payload } from "./payload.js";
import { Journal, journalEntry, replayJournal, type JournalEntry } from "./journal.js";
import { JobHandles } from "./job-handles.js";
import { WakeUps } from "./wake-ups.js";
import {
  functionFigures,
  functionSummary,
  jobSummary,
  sessionSummary,
  type DropResult,
  type FunctionFigures,
  type FunctionSummary,
  type JobSummary,
  type SessionSummary,
} from "./scheduler-views.js";
import type { Connection } from "./connection.js";
import type { FilledServerOptions } from "./server-options.js";

/** gearmand refuses longer unique ids. */
const MAX_UNIQUE = 64;
const NUL = 0;
/** setTimeout's longest delay (about 24.8 days); an epoch further away waits again. */
const LONGEST_DELAY_MS = 2 ** 31 - 1;

/** The server options the scheduler uses (from fillServerOptions: validated, filled). */
export type SchedulerOptions = Pick<FilledServerOptions, "jobRetries" | "maxQueue" | "handlePrefix" | "log">;

/** One submitted job, as every SUBMIT_* packet carries it. Strings are byte strings (latin1). */
export interface Submission {
  readonly func: string;
  /** "" for none; "-" means "the payload is the unique". At most 64 bytes. */
  readonly unique: string;
  readonly data: Payload;
  readonly priority: Priority;
  /** No client waits for it (SUBMIT_*_BG, SUBMIT_JOB_EPOCH): journalled, kept when its submitter leaves. */
  readonly background: boolean;
  /** SUBMIT_JOB_EPOCH: seconds since 1970 at which it may run (0: now). */
  readonly epoch: number;
  /** SUBMIT_REDUCE_JOB*: the reducer function ("" for none), sent in JOB_ASSIGN_ALL. */
  readonly reducer: string;
}

export class Scheduler {
  private readonly functionQueues = new Map<string, FunctionQueue>();
  private readonly liveJobs = new Map<number, Job>();
  private readonly sessions = new Set<Session>();
  private readonly handles: JobHandles;
  private readonly wakeUps = new WakeUps(this.functionQueues);
  private journal: Journal | undefined;
  private jobCounter = 0;
  private sessionCounter = 0;
  private heldJobs = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly options: SchedulerOptions) {
    this.handles = new JobHandles(options.handlePrefix);
  }

  // ── connections ──────────────────────────────────────────────────────────

  /** A new connection: it may submit, work, or both. */
  open(connection: Connection): Session {
    const session = new Session(++this.sessionCounter, connection);
    this.sessions.add(session);
    return session;
  }

  /**
   * The connection is gone: the jobs its worker held go back to their queues
   * (a retry each), its jobs lose this client, and a NOOP it was sent and
   * will never answer goes to another sleeper.
   */
  leave(session: Session): void {
    if (!this.sessions.delete(session)) return;
    for (const func of session.abilities.keys()) {
      const queue = this.functionQueues.get(func);
      if (!queue) continue;
      queue.workers.delete(session);
      this.wakeUps.unregistered(session, queue);
    }
    for (const job of [...session.held]) this.release(job, `worker ${session.connection.address} disconnected`);
    for (const job of session.waiting) job.removeClient(session);
    session.waiting.clear();
    this.wakeUps.left(session);
  }

  /** SET_CLIENT_ID (spaces and NULs become "_"; empty is "-"). */
  setClientId(session: Session, id: string): void {
    session.clientId = id.replace(/[\s\0]/g, "_") || "-";
  }

  /** OPTION_REQ "exceptions": this client gets WORK_EXCEPTION rather than WORK_FAIL. */
  wantExceptions(session: Session): void {
    session.exceptions = true;
  }

  // ── clients ──────────────────────────────────────────────────────────────

  /** Answers JOB_CREATED (a new job, or the queued or running one with the same unique), or ERROR. */
  submit(session: Session, submission: Submission): void {
    const { unique, data, priority, background } = submission;
    if (unique.length > MAX_UNIQUE)
      return session.connection.packet(PacketType.ERROR, "ARGUMENT_TOO_LARGE", "Unique value too large");
    const queue = this.queueFor(submission.func);
    const key = unique === "" ? "" : uniqueKey(unique, data);
    if (key !== "") {
      const existing = queue.unique.get(key);
      if (existing !== undefined) {
        if (!background) existing.addClient(session);
        return session.connection.packet(PacketType.JOB_CREATED, this.handleOf(existing));
      }
    }
    const limit = queue.maxQueue?.[priority] ?? this.options.maxQueue;
    if (limit > 0 && queue.total >= limit)
      return session.connection.packet(PacketType.ERROR, "QUEUE_ERROR", "Job queue is full");
    const job = new Job(++this.jobCounter, queue, unique, data, priority, background);
    queue.counters.submitted[priority][background ? 1 : 0]++;
    if (submission.epoch > 0 || submission.reducer !== "") {
      const extra = job.more();
      extra.epoch = submission.epoch;
      extra.reducer = submission.reducer;
    }
    if (background) this.journal?.add(journalEntry(job));
    else job.addClient(session);
    this.admit(job, key);
    session.connection.packet(PacketType.JOB_CREATED, this.handleOf(job));
  }

  /** GET_STATUS: STATUS_RES (handle, known, running, numerator, denominator). */
  status(session: Session, handle: string): void {
    const job = this.jobByHandle(handle);
    if (job === undefined) return session.connection.packet(PacketType.STATUS_RES, handle, "0", "0", "0", "0");
    session.connection.packet(
      PacketType.STATUS_RES,
      handle,
      "1",
      job.worker ? "1" : "0",
      job.extra?.numerator ?? "0",
      job.extra?.denominator ?? "0",
    );
  }

  /** GET_STATUS_UNIQUE: STATUS_RES_UNIQUE (unique, known, running, numerator, denominator, clients), as gearmand. */
  statusUnique(session: Session, unique: string): void {
    let job: Job | undefined;
    for (const queue of this.functionQueues.values()) if ((job = queue.unique.get(unique)) !== undefined) break;
    if (job === undefined)
      return session.connection.packet(PacketType.STATUS_RES_UNIQUE, unique, "0", "0", "0", "0", "0");
    const extra = job.extra;
    session.connection.packet(
      PacketType.STATUS_RES_UNIQUE,
      unique,
      "1",
      job.worker ? "1" : "0",
      extra?.numerator ?? "0",
      extra?.denominator ?? "0",
      String(job.clients?.length ?? 0),
    );
  }

  /** Indexes a job and queues it now, or when its epoch comes (a timer, no polling). */
  private admit(job: Job, key: string): void {
    const queue = job.queue;
    this.liveJobs.set(job.id, job);
    if (key !== "") queue.unique.set(key, job);
    const delayMs = job.epoch * 1000 - Date.now();
    if (delayMs > 0) {
      queue.scheduled++;
      const timer = setTimeout(() => this.due(job), Math.min(delayMs, LONGEST_DELAY_MS));
      timer.unref();
      job.more().epochTimer = timer;
      return;
    }
    this.enqueue(job, false);
  }

  private due(job: Job): void {
    const extra = job.more();
    extra.epochTimer = undefined;
    if (!job.live) return;
    const delayMs = job.epoch * 1000 - Date.now();
    if (delayMs > 0) {
      extra.epochTimer = setTimeout(() => this.due(job), Math.min(delayMs, LONGEST_DELAY_MS));
      extra.epochTimer.unref();
      return;
    }
    job.queue.scheduled--;
    this.enqueue(job, false);
  }

  private enqueue(job: Job, front: boolean): void {
    const fifo = job.queue.queues[job.priority];
    if (front) fifo.unshift(job);
    else fifo.push(job);
    this.wakeUps.queued(job.queue);
  }

  // ── workers ──────────────────────────────────────────────────────────────

  /** CAN_DO / CAN_DO_TIMEOUT (timeoutMs 0: none). */
  canDo(session: Session, func: string, timeoutMs: number): void {
    session.abilities.set(func, timeoutMs);
    const queue = this.queueFor(func);
    queue.workers.add(session);
    this.wakeUps.registered(session, queue);
  }

  cantDo(session: Session, func: string): void {
    session.abilities.delete(func);
    const queue = this.functionQueues.get(func);
    if (queue === undefined) return;
    queue.workers.delete(session);
    this.wakeUps.unregistered(session, queue);
  }

  resetAbilities(session: Session): void {
    for (const func of [...session.abilities.keys()]) this.cantDo(session, func);
  }

  /** PRE_SLEEP: the worker waits for a NOOP, unless there is work already. */
  preSleep(session: Session): void {
    this.wakeUps.sleep(session);
  }

  /** Takes the next job for a worker: the highest priority first, across its functions in registration order. */
  private take(session: Session): Job | undefined {
    for (let priority = Priority.High; priority <= Priority.Low; priority++) {
      for (const func of session.abilities.keys()) {
        const queue = this.functionQueues.get(func);
        if (queue === undefined) continue;
        const fifo = queue.queues[priority];
        let job: Job | undefined;
        while ((job = fifo.shift()) !== undefined) {
          if (!job.live) continue;
          if (job.abandoned) {
            this.forget(job); // every client left: nobody wants the result
            continue;
          }
          return job;
        }
      }
    }
    return undefined;
  }

  /** GRAB_JOB, GRAB_JOB_UNIQ or GRAB_JOB_ALL (`type`): JOB_ASSIGN, _UNIQ or _ALL, or NO_JOB. */
  grab(session: Session, type: number): void {
    const job = this.wakeUps.paused ? undefined : this.take(session);
    this.wakeUps.grabbed(session, job?.queue);
    if (job === undefined) return session.connection.packet(PacketType.NO_JOB);
    job.worker = session;
    session.held.add(job);
    job.queue.running++;
    this.heldJobs++;
    const timeoutMs = session.abilities.get(job.queue.name) ?? 0;
    if (timeoutMs > 0) {
      job.more().workTimer = setTimeout(
        () =>
          this.release(
            job,
            `worker ${session.connection.address} did not finish within ${timeoutMs} ms (CAN_DO_TIMEOUT)`,
          ),
        timeoutMs,
      );
    }
    const handle = this.handleOf(job);
    const connection = session.connection;
    if (type === PacketType.GRAB_JOB) connection.packet(PacketType.JOB_ASSIGN, handle, job.queue.name, job.data);
    else if (type === PacketType.GRAB_JOB_ALL && job.reducer !== "")
      connection.packet(PacketType.JOB_ASSIGN_ALL, handle, job.queue.name, job.unique, job.reducer, job.data);
    else connection.packet(PacketType.JOB_ASSIGN_UNIQ, handle, job.queue.name, job.unique, job.data);
  }

  /** WORK_COMPLETE / FAIL / EXCEPTION / DATA / WARNING / STATUS from a worker: forwarded to the job's clients. */
  work(session: Session, packet: Packet): void {
    const { type, body } = packet;
    const nul = body.indexOf(NUL);
    const handle = body.toString("latin1", 0, nul < 0 ? body.length : nul);
    const job = this.jobByHandle(handle);
    if (job === undefined || job.worker !== session) {
      // Finished, requeued, cancelled or never this worker's: as gearmand, say so and carry on.
      return session.connection.packet(
        PacketType.ERROR,
        "JOB_NOT_FOUND",
        type === PacketType.WORK_EXCEPTION
          ? "An exception was received for a job that does not exist"
          : "Job given in work result not found",
      );
    }
    if (type === PacketType.WORK_STATUS) {
      const [, numerator, denominator] = splitArgs(body, 3, "WORK_STATUS");
      const extra = job.more();
      extra.numerator = numerator.toString("latin1");
      extra.denominator = denominator.toString("latin1");
    }
    const clients = job.clients;
    if (clients !== undefined) {
      const only = clients.length === 1;
      for (const client of clients) {
        if (type === PacketType.WORK_EXCEPTION && !client.exceptions)
          client.connection.packet(PacketType.WORK_FAIL, handle);
        else client.connection.forward(packet, only);
      }
    }
    if (type === PacketType.WORK_COMPLETE || type === PacketType.WORK_FAIL || type === PacketType.WORK_EXCEPTION) {
      // A cancelled job was counted when it was cancelled.
      if (job.extra?.cancelled !== true) {
        const counters = job.queue.counters;
        if (type === PacketType.WORK_COMPLETE) counters.completed++;
        else counters.failed[type === PacketType.WORK_FAIL ? "fail" : "exception"]++;
      }
      this.finish(job);
    }
  }

  /** A worker lost a job (disconnect, CAN_DO_TIMEOUT): back to the front of its queue, or failed past jobRetries. */
  private release(job: Job, why: string): void {
    if (!job.live || job.worker === undefined) return;
    this.unhold(job);
    if (job.extra?.cancelled) return this.forget(job);
    job.retries++;
    const cap = this.options.jobRetries;
    if (cap > 0 && job.retries >= cap) {
      const handle = this.handleOf(job);
      this.options.log(`job ${handle} (${job.queue.name}) failed: ${why}; its worker was lost ${job.retries} times`);
      if (job.clients !== undefined)
        for (const client of job.clients) client.connection.packet(PacketType.WORK_FAIL, handle);
      job.queue.counters.failed.worker_lost++;
      return this.forget(job);
    }
    this.enqueue(job, true);
  }

  private unhold(job: Job): void {
    const worker = job.worker;
    if (worker === undefined) return;
    worker.held.delete(job);
    job.worker = undefined;
    job.queue.running--;
    this.heldJobs--;
    if (job.extra?.workTimer !== undefined) {
      clearTimeout(job.extra.workTimer);
      job.extra.workTimer = undefined;
    }
    if (this.heldJobs === 0) this.drained?.();
  }

  /** A job ended: forget it everywhere. */
  private finish(job: Job): void {
    this.unhold(job);
    this.forget(job);
  }

  private forget(job: Job): void {
    if (!job.live) return;
    job.live = false;
    const extra = job.extra;
    if (extra?.epochTimer !== undefined) {
      clearTimeout(extra.epochTimer);
      extra.epochTimer = undefined;
      job.queue.scheduled--;
    }
    this.liveJobs.delete(job.id);
    const queue = job.queue;
    if (job.unique !== "") {
      const key = uniqueKey(job.unique, job.data);
      if (queue.unique.get(key) === job) queue.unique.delete(key);
    }
    if (job.clients !== undefined) for (const client of job.clients) client.waiting.delete(job);
    job.clients = undefined;
    if (job.background) this.journal?.done(job.id);
  }

  // ── handles ──────────────────────────────────────────────────────────────

  private handleOf(job: Job): string {
    return this.handles.of(job.id);
  }

  /** The live job a handle names, if any. */
  private jobByHandle(handle: string): Job | undefined {
    const id = this.handles.id(handle);
    return id === undefined ? undefined : this.liveJobs.get(id);
  }

  private queueFor(func: string): FunctionQueue {
    let queue = this.functionQueues.get(func);
    if (queue === undefined) this.functionQueues.set(func, (queue = new FunctionQueue(func)));
    return queue;
  }

  // ── admin ────────────────────────────────────────────────────────────────

  /** Every function known (registered, submitted to, or created), in the order first seen. */
  *functions(): Iterable<FunctionSummary> {
    for (const queue of this.functionQueues.values()) yield functionSummary(queue);
  }

  /** Every function's queues and job counts since start, for the metrics (as functions(), in the order first seen). */
  *figures(): Iterable<FunctionFigures> {
    for (const queue of this.functionQueues.values()) yield functionFigures(queue);
  }

  /** Every job held (queued, running, or waiting for its epoch), oldest first. */
  *jobs(): Iterable<JobSummary> {
    for (const job of this.liveJobs.values()) yield jobSummary(job, this.handleOf(job));
  }

  /** Every connection, oldest first. */
  *connections(): Iterable<SessionSummary> {
    for (const session of this.sessions) yield sessionSummary(session);
  }

  /**
   * Admin `cancel job`: removes a queued (or epoch-waiting) job. A running
   * one, as gearmand does, fails at once to its clients (WORK_FAIL); what its
   * worker sends for it later goes nowhere, and it is not handed out again if
   * that worker is lost. False for an unknown handle.
   */
  cancel(handle: string): boolean {
    const job = this.jobByHandle(handle);
    if (job === undefined) return false;
    if (job.worker !== undefined) {
      this.cancelRunning(job, handle);
      return true;
    }
    const scheduled = job.extra?.epochTimer !== undefined;
    if (!scheduled && !job.queue.queues[job.priority].remove(job)) return false;
    job.queue.counters.failed.cancelled++;
    this.forget(job);
    return true;
  }

  private cancelRunning(job: Job, handle: string): void {
    if (job.extra?.cancelled) return;
    job.more().cancelled = true;
    job.queue.counters.failed.cancelled++;
    const clients = job.clients;
    job.clients = undefined;
    if (clients !== undefined) {
      for (const client of clients) {
        client.waiting.delete(job);
        client.connection.packet(PacketType.WORK_FAIL, handle);
      }
    }
    // Its unique is free at once: a new job under it must not join the cancelled one.
    if (job.unique !== "") {
      const key = uniqueKey(job.unique, job.data);
      if (job.queue.unique.get(key) === job) job.queue.unique.delete(key);
    }
  }

  /** Admin `maxqueue`: limits per priority (high, normal, low; 0 none), or undefined for the server's maxQueue. Creates the function. */
  setMaxQueue(func: string, limits: readonly [number, number, number] | undefined): void {
    this.queueFor(func).maxQueue = limits;
  }

  /** Admin `create function`. */
  createFunction(func: string): void {
    this.queueFor(func);
  }

  /** Admin `drop function`: only a function with no workers and no jobs. */
  dropFunction(func: string): DropResult {
    const queue = this.functionQueues.get(func);
    if (!queue) return "unknown";
    if (queue.workers.size > 0 || queue.total > 0) return "in use";
    this.wakeUps.forget(queue);
    this.functionQueues.delete(func);
    return "dropped";
  }

  // ── journal ──────────────────────────────────────────────────────────────

  /**
   * Keeps background jobs in the journal at `path`: replays it (its live jobs
   * are queued again with their handles), then records every background job
   * accepted from now on. Returns how many jobs were replayed.
   */
  useJournal(path: string, fsync: boolean): number {
    const entries = replayJournal(path);
    for (const entry of entries) this.restore(entry);
    this.journal = new Journal(path, entries, fsync, () => this.liveBackgroundJobs());
    return entries.length;
  }

  /** Writes the journal records made so far: call before any reply leaves, so JOB_CREATED never precedes its record. */
  commit(): void {
    this.journal?.commit();
  }

  private restore(entry: JournalEntry): void {
    if (entry.id > this.jobCounter) this.jobCounter = entry.id;
    const job = new Job(
      entry.id,
      this.queueFor(entry.func),
      entry.unique,
      entry.data,
      entry.priority as Priority,
      true,
    );
    if (entry.epoch > 0 || entry.reducer !== "") {
      const extra = job.more();
      extra.epoch = entry.epoch;
      extra.reducer = entry.reducer;
    }
    this.admit(job, entry.unique === "" ? "" : uniqueKey(entry.unique, entry.data));
  }

  private *liveBackgroundJobs(): Iterable<JournalEntry> {
    for (const job of this.liveJobs.values()) if (job.background) yield journalEntry(job);
  }

  // ── shutdown ─────────────────────────────────────────────────────────────

  /** Hands out no more jobs and wakes nobody; resolves once no worker holds a job. */
  drain(): Promise<void> {
    this.wakeUps.paused = true;
    if (this.heldJobs === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drained = () => {
        this.drained = undefined;
        resolve();
      };
    });
  }

  /** Stops every timer and closes the journal (which keeps every unfinished background job). */
  stop(): void {
    this.wakeUps.stop();
    for (const job of this.liveJobs.values()) {
      if (job.extra?.epochTimer !== undefined) clearTimeout(job.extra.epochTimer);
      if (job.extra?.workTimer !== undefined) clearTimeout(job.extra.workTimer);
    }
    this.journal?.close();
    this.journal = undefined;
  }
}
