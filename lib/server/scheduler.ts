/**
 * The job server's scheduling, with no sockets: what each request of a
 * client, a worker or an admin does, decoded (dispatch.ts, admin-commands.ts)
 * and answered through the session's Connection (connection.ts), so it runs
 * the same behind the JobServer's sockets as in a test that records packets.
 * Where the jobs are and how they move is the JobBook's (job-book.ts); which
 * sleeping worker gets a NOOP is SleepingWorkers' (sleeping-workers.ts).
 *
 *   submit ──► same unique queued or running? ──► attach: same handle
 *          └─► maxqueue ──► book.add (+ journal if background) ──► JOB_CREATED
 *   grab ──► book.take: highest priority across the worker's functions ──► book.hold ──► JOB_ASSIGN / _UNIQ / _ALL
 *   work ──► forwarded to the job's clients; COMPLETE / FAIL / EXCEPTION: book.finish
 *   worker lost ──► book.release: front of its queue again, or WORK_FAIL past jobRetries
 *   client lost ──► its jobs lose a client; one nobody waits for is dropped when a worker would take it
 */
import { PacketType } from "../gearman/packet-types.js";
import type { Packet } from "../gearman/packet.js";
import { type Job, Session, uniqueKey } from "./scheduler-state.js";
import { JobBook, type SubmitRequest } from "./job-book.js";
import type { SleepingWorkers } from "./sleeping-workers.js";
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

/** The server options the scheduler uses (from fillServerOptions: validated, filled). */
export type SchedulerOptions = Pick<FilledServerOptions, "jobRetries" | "maxQueue" | "handlePrefix" | "log">;

export class Scheduler {
  private readonly book: JobBook;
  private readonly sleeping: SleepingWorkers;
  private readonly sessions = new Set<Session>();
  private sessionCounter = 0;

  constructor(private readonly options: SchedulerOptions) {
    this.book = new JobBook(options);
    this.sleeping = this.book.sleeping;
    this.sleeping.handOut = (session) => this.handOut(session);
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
      const queue = this.book.functionQueues.get(func);
      if (!queue) continue;
      queue.workers.delete(session);
      this.sleeping.unregistered(session, queue);
    }
    const worker = `worker ${session.clientId} at ${session.connection.address}`;
    if (session.held.size > 0) this.options.log(`${worker} left holding ${session.held.size} job(s)`);
    for (const job of [...session.held]) this.book.release(job, `${worker} disconnected`);
    for (const job of session.waiting) job.removeClient(session);
    session.waiting.clear();
    this.sleeping.left(session);
  }

  /** SET_CLIENT_ID (spaces and NULs become "_"; empty is "-"). */
  setClientId(session: Session, id: string): void {
    session.clientId = id.replace(/[\s\0]/g, "_") || "-";
  }

  /** OPTION_REQ "exceptions": this client gets WORK_EXCEPTION rather than WORK_FAIL. */
  wantExceptions(session: Session): void {
    session.exceptions = true;
  }

  /** OPTION_REQ WAKE_WITH_JOB: this worker, asleep, is handed a job rather than a NOOP (lib/gearman/wake-with-job.ts). */
  wakeWithJob(session: Session): void {
    session.wakeWithJob = true;
  }

  /** OPTION_REQ UNPARK: the worker withdraws its parked slot; asleep, it is awake now, and no job comes for the park. */
  unpark(session: Session): void {
    this.sleeping.unpark(session);
  }

  // ── clients ──────────────────────────────────────────────────────────────

  /** Answers JOB_CREATED (a new job, or the queued or running one with the same unique), or ERROR. */
  submit(session: Session, request: SubmitRequest): void {
    const { unique, data, priority, background } = request;
    if (unique.length > MAX_UNIQUE)
      return session.connection.packet(PacketType.ERROR, "ARGUMENT_TOO_LARGE", "Unique value too large");
    const book = this.book;
    const queue = book.queueFor(request.func);
    const key = unique === "" ? "" : uniqueKey(unique, data);
    if (key !== "") {
      const existing = queue.unique.get(key);
      if (existing !== undefined) {
        if (!background) existing.addClient(session);
        return session.connection.packet(PacketType.JOB_CREATED, book.handleOf(existing));
      }
    }
    const limit = queue.maxQueue?.[priority] ?? this.options.maxQueue;
    if (limit > 0 && queue.total >= limit)
      return session.connection.packet(PacketType.ERROR, "QUEUE_ERROR", "Job queue is full");
    const job = book.add(queue, request, key, session);
    session.connection.packet(PacketType.JOB_CREATED, book.handleOf(job));
  }

  /** GET_STATUS: STATUS_RES (handle, known, running, numerator, denominator). */
  status(session: Session, handle: string): void {
    const job = this.book.jobByHandle(handle);
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
    for (const queue of this.book.functionQueues.values()) if ((job = queue.unique.get(unique)) !== undefined) break;
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

  // ── workers ──────────────────────────────────────────────────────────────

  /** CAN_DO / CAN_DO_TIMEOUT (timeoutMs 0: none). */
  canDo(session: Session, func: string, timeoutMs: number): void {
    session.abilities.set(func, timeoutMs);
    const queue = this.book.queueFor(func);
    queue.workers.add(session);
    this.sleeping.registered(session, queue);
  }

  cantDo(session: Session, func: string): void {
    session.abilities.delete(func);
    const queue = this.book.functionQueues.get(func);
    if (queue === undefined) return;
    queue.workers.delete(session);
    this.sleeping.unregistered(session, queue);
  }

  resetAbilities(session: Session): void {
    for (const func of [...session.abilities.keys()]) this.cantDo(session, func);
  }

  /** PRE_SLEEP: the worker waits for a NOOP, unless there is work already. */
  preSleep(session: Session): void {
    this.sleeping.sleep(session);
  }

  /** GRAB_JOB, GRAB_JOB_UNIQ or GRAB_JOB_ALL (`type`): JOB_ASSIGN, _UNIQ or _ALL, or NO_JOB. */
  grab(session: Session, type: number): void {
    const book = this.book;
    const job = this.sleeping.paused ? undefined : book.take(session);
    this.sleeping.grabbed(session, job?.queue);
    if (job === undefined) return session.connection.packet(PacketType.NO_JOB);
    this.assign(session, job, type);
  }

  /** A parked worker's slot, answered with a job in place of its NOOP (as GRAB_JOB_UNIQ would be); false when none can be taken. */
  private handOut(session: Session): boolean {
    const job = this.book.take(session);
    if (job === undefined) return false;
    this.assign(session, job, PacketType.GRAB_JOB_UNIQ);
    return true;
  }

  private assign(session: Session, job: Job, type: number): void {
    const book = this.book;
    book.hold(job, session);
    const handle = book.handleOf(job);
    const connection = session.connection;
    if (type === PacketType.GRAB_JOB) connection.packet(PacketType.JOB_ASSIGN, handle, job.queue.name, job.data);
    else if (type === PacketType.GRAB_JOB_ALL && job.reducer !== "")
      connection.packet(PacketType.JOB_ASSIGN_ALL, handle, job.queue.name, job.unique, job.reducer, job.data);
    else connection.packet(PacketType.JOB_ASSIGN_UNIQ, handle, job.queue.name, job.unique, job.data);
  }

  /**
   * WORK_COMPLETE / FAIL / EXCEPTION / DATA / WARNING for the job whose handle
   * is the packet's body up to `handleEnd`, `packet` itself forwarded to the
   * job's clients; the first three end the job.
   */
  work(session: Session, handleEnd: number, packet: Packet): void {
    const type = packet.type;
    // The handle is read where it lies in the packet: it is only looked up, and forwarded in the packet itself.
    const job = this.held(session, this.book.jobByHandleIn(packet.body, 0, handleEnd), type);
    if (job === undefined) return;
    this.forward(job, packet);
    if (type === PacketType.WORK_COMPLETE || type === PacketType.WORK_FAIL || type === PacketType.WORK_EXCEPTION) {
      // A cancelled job was counted when it was cancelled.
      if (job.extra?.cancelled !== true) {
        const counters = job.queue.counters;
        if (type === PacketType.WORK_COMPLETE) counters.completed++;
        else counters.failed[type === PacketType.WORK_FAIL ? "fail" : "exception"]++;
      }
      this.book.finish(job);
    }
  }

  /** WORK_STATUS for job `handle`: kept for GET_STATUS, and `packet` forwarded to the job's clients. */
  progress(session: Session, handle: string, numerator: string, denominator: string, packet: Packet): void {
    const job = this.held(session, this.book.jobByHandle(handle), packet.type);
    if (job === undefined) return;
    const extra = job.more();
    extra.numerator = numerator;
    extra.denominator = denominator;
    this.forward(job, packet);
  }

  /** `job` (the live job a worker's handle names, if any) if `session` holds it; else, as gearmand, ERROR JOB_NOT_FOUND (and carry on). */
  private held(session: Session, job: Job | undefined, type: number): Job | undefined {
    if (job !== undefined && job.worker === session) return job;
    // Finished, requeued, cancelled or never this worker's.
    session.connection.packet(
      PacketType.ERROR,
      "JOB_NOT_FOUND",
      type === PacketType.WORK_EXCEPTION
        ? "An exception was received for a job that does not exist"
        : "Job given in work result not found",
    );
    return undefined;
  }

  /** A worker's WORK_* packet to each of the job's clients (WORK_FAIL for WORK_EXCEPTION to those that did not ask). */
  private forward(job: Job, packet: Packet): void {
    const clients = job.clients;
    if (clients === undefined) return;
    const only = clients.length === 1;
    const failInstead = packet.type === PacketType.WORK_EXCEPTION;
    for (const client of clients) {
      // The job's handle is the one the worker sent: handles are canonical (no leading zeros).
      if (failInstead && !client.exceptions) client.connection.packet(PacketType.WORK_FAIL, this.book.handleOf(job));
      else client.connection.forward(packet, only);
    }
  }

  // ── admin ────────────────────────────────────────────────────────────────

  /** Every function known (registered, submitted to, or created), in the order first seen. */
  *functions(): Iterable<FunctionSummary> {
    for (const queue of this.book.functionQueues.values()) yield functionSummary(queue);
  }

  /** Every function's queues and job counts since start, for the metrics (as functions(), in the order first seen). */
  *figures(): Iterable<FunctionFigures> {
    for (const queue of this.book.functionQueues.values()) yield functionFigures(queue);
  }

  /** Every job held (queued, running, or waiting for its epoch), oldest first. */
  *jobs(): Iterable<JobSummary> {
    for (const job of this.book.liveJobs.values()) yield jobSummary(job, this.book.handleOf(job));
  }

  /** Every connection, oldest first. */
  *connections(): Iterable<SessionSummary> {
    for (const session of this.sessions) yield sessionSummary(session);
  }

  /** Admin `cancel job` (JobBook.cancel says what it does to a queued and to a running job); false for an unknown handle. */
  cancel(handle: string): boolean {
    return this.book.cancel(handle);
  }

  /** Admin `maxqueue`: limits per priority (high, normal, low; 0 none), or undefined for the server's maxQueue. Creates the function. */
  setMaxQueue(func: string, limits: readonly [number, number, number] | undefined): void {
    this.book.queueFor(func).maxQueue = limits;
  }

  /** Admin `create function`. */
  createFunction(func: string): void {
    this.book.queueFor(func);
  }

  /** Admin `drop function`: only a function with no workers and no jobs. */
  dropFunction(func: string): DropResult {
    return this.book.drop(func);
  }

  // ── journal ──────────────────────────────────────────────────────────────

  /** Replays the journal at `path` and keeps background jobs in it from now on (JobBook.useJournal); returns how many jobs were replayed. */
  useJournal(path: string, fsync: boolean): number {
    return this.book.useJournal(path, fsync);
  }

  /** Writes the journal records made so far: the server calls it before any reply leaves, so JOB_CREATED never precedes its record. */
  commit(): void {
    this.book.commit();
  }

  // ── shutdown ─────────────────────────────────────────────────────────────

  /** Hands out no more jobs and wakes nobody; resolves once no worker holds a job. */
  drain(): Promise<void> {
    this.sleeping.paused = true;
    return this.book.drain();
  }

  /** Stops every timer and closes the journal (which keeps every unfinished background job). */
  stop(): void {
    this.book.stop();
  }
}
