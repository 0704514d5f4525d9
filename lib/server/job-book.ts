/**
 * Where every job the server holds is, and each move between those places:
 * the function queues, the live jobs by number and their handles, the
 * journal of background jobs, the count of jobs workers hold (for a
 * graceful close), and the sleeping workers a queued job wakes
 * (sleeping-workers.ts). The Scheduler (scheduler.ts) turns requests into
 * these moves; nothing here reads a packet.
 *
 *   add / restore ──► admit ──► epoch later? ──► timer ──► due ──┐
 *                        └───────────────────────────────────────┴──► enqueue: queue[priority] ──► a sleeper's NOOP
 *   take ──► the first live job of a worker's functions, highest priority first (dropping abandoned ones)
 *   hold ──► a worker has it (+ CAN_DO_TIMEOUT timer) ──► finish ──► forget (journal: done)
 *                                                    └─► release (worker lost, timeout) ──► front of its queue,
 *                                                                                           or WORK_FAIL past jobRetries
 *   cancel ──► queued: forget · running: its clients get WORK_FAIL now, forgotten when its worker ends or loses it
 */
import { PacketType } from "../gearman/packet-types.js";
import { Job, FunctionQueue, Priority, type Session, uniqueKey } from "./scheduler-state.js";
import type { JobData } from "./payload.js";
import { Journal, journalEntry, replayJournal, type JournalEntry } from "./journal.js";
import { JobHandles } from "./job-handles.js";
import { SleepingWorkers } from "./sleeping-workers.js";
import type { DropResult } from "./scheduler-views.js";
import type { FilledServerOptions } from "./server-options.js";

/** setTimeout's longest delay (about 24.8 days); an epoch further away waits again. */
const LONGEST_DELAY_MS = 2 ** 31 - 1;

/** The server options the book uses (from fillServerOptions: validated, filled). */
export type JobBookOptions = Pick<FilledServerOptions, "jobRetries" | "handlePrefix" | "log">;

/** One job as a SUBMIT_* packet asks for it. Strings are byte strings (latin1). */
export interface SubmitRequest {
  readonly func: string;
  /** "" for none; "-" means "the payload is the unique". At most 64 bytes. */
  readonly unique: string;
  readonly data: JobData;
  readonly priority: Priority;
  /** No client waits for it (SUBMIT_*_BG, SUBMIT_JOB_EPOCH): journalled, kept when its submitter leaves. */
  readonly background: boolean;
  /** SUBMIT_JOB_EPOCH: seconds since 1970 at which it may run (0: now). */
  readonly epoch: number;
  /** SUBMIT_REDUCE_JOB*: the reducer function ("" for none), sent in JOB_ASSIGN_ALL. */
  readonly reducer: string;
}

export class JobBook {
  /** Every function known (registered, submitted to, or created), in the order first seen. */
  readonly functionQueues = new Map<string, FunctionQueue>();
  /** Every job held (queued, running, or waiting for its epoch), by number, oldest first. */
  readonly liveJobs = new Map<number, Job>();
  readonly sleeping = new SleepingWorkers(this.functionQueues);
  private readonly handles: JobHandles;
  private journal: Journal | undefined;
  private jobCounter = 0;
  private heldJobs = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly options: JobBookOptions) {
    this.handles = new JobHandles(options.handlePrefix);
  }

  queueFor(func: string): FunctionQueue {
    let queue = this.functionQueues.get(func);
    if (queue === undefined) this.functionQueues.set(func, (queue = new FunctionQueue(func)));
    return queue;
  }

  handleOf(job: Job): string {
    return this.handles.of(job.id);
  }

  /** The live job a handle names, if any. */
  jobByHandle(handle: string): Job | undefined {
    const id = this.handles.id(handle);
    return id === undefined ? undefined : this.liveJobs.get(id);
  }

  /** The live job named by the handle in `bytes` from `from` to `to`, if any (JobHandles.idIn). */
  jobByHandleIn(bytes: Uint8Array, from: number, to: number): Job | undefined {
    const id = this.handles.idIn(bytes, from, to);
    return id === undefined ? undefined : this.liveJobs.get(id);
  }

  // ── in ───────────────────────────────────────────────────────────────────

  /**
   * A new job of `queue` (`key`: its uniqueKey, "" for none): counted, journalled if background, admitted.
   * A foreground job's `client` waits for it before it is queued: a parked worker may take it at once.
   */
  add(queue: FunctionQueue, request: SubmitRequest, key: string, client?: Session): Job {
    const { priority, background } = request;
    const job = withExtra(
      new Job(++this.jobCounter, queue, request.unique, request.data, priority, background),
      request,
    );
    queue.counters.submitted[priority][background ? 1 : 0]++;
    if (background) this.journal?.add(journalEntry(job));
    else if (client !== undefined) job.addClient(client);
    this.admit(job, key);
    return job;
  }

  /** Indexes a job and queues it now, or when its epoch comes (a timer, no polling). */
  private admit(job: Job, key: string): void {
    const queue = job.queue;
    this.liveJobs.set(job.id, job);
    if (key !== "") queue.unique.set(key, job);
    const delayMs = job.epoch === 0 ? 0 : job.epoch * 1000 - Date.now();
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
    this.sleeping.queued(job.queue);
  }

  // ── out to workers ───────────────────────────────────────────────────────

  /** Takes the next job for a worker: the highest priority first, across its functions in registration order. */
  take(session: Session): Job | undefined {
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

  /** `worker` has the job now; with a CAN_DO_TIMEOUT for its function, it loses it if it takes longer. */
  hold(job: Job, worker: Session): void {
    job.worker = worker;
    worker.held.add(job);
    job.queue.running++;
    this.heldJobs++;
    const timeoutMs = worker.abilities.get(job.queue.name) ?? 0;
    if (timeoutMs > 0) {
      job.more().workTimer = setTimeout(
        () =>
          this.release(
            job,
            `worker ${worker.connection.address} did not finish within ${timeoutMs} ms (CAN_DO_TIMEOUT)`,
          ),
        timeoutMs,
      );
    }
  }

  /** A worker lost a job (disconnect, CAN_DO_TIMEOUT): back to the front of its queue, or failed past jobRetries. */
  release(job: Job, why: string): void {
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
    this.options.log(
      `job ${this.handleOf(job)} (${job.queue.name}) back in its queue: ${why} (handed out again, retry ${job.retries}${cap > 0 ? ` of ${cap - 1}` : ""})`,
    );
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

  // ── out ──────────────────────────────────────────────────────────────────

  /** A job ended (its worker sent COMPLETE, FAIL or EXCEPTION): forget it everywhere. */
  finish(job: Job): void {
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
    this.freeUnique(job);
    if (job.clients !== undefined) for (const client of job.clients) client.waiting.delete(job);
    job.clients = undefined;
    if (job.background) this.journal?.done(job.id);
  }

  /** A new job under this job's unique no longer joins it. */
  private freeUnique(job: Job): void {
    if (job.unique === "") return;
    const key = uniqueKey(job.unique, job.data);
    if (job.queue.unique.get(key) === job) job.queue.unique.delete(key);
  }

  /**
   * Removes a queued (or epoch-waiting) job. A running one, as gearmand
   * does, fails at once to its clients (WORK_FAIL); what its worker sends
   * for it later goes nowhere, and it is not handed out again if that
   * worker is lost. False for an unknown handle.
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
    this.freeUnique(job);
  }

  /** Forgets a function with no workers and no jobs (admin `drop function`). */
  drop(func: string): DropResult {
    const queue = this.functionQueues.get(func);
    if (!queue) return "unknown";
    if (queue.workers.size > 0 || queue.total > 0) return "in use";
    this.sleeping.forget(queue);
    this.functionQueues.delete(func);
    return "dropped";
  }

  // ── journal ──────────────────────────────────────────────────────────────

  /**
   * Keeps background jobs in the journal at `path`: replays it (its live jobs
   * are queued again with their handles), then records every background job
   * added from now on. Returns how many jobs were replayed.
   */
  useJournal(path: string, fsync: boolean): number {
    const entries = replayJournal(path);
    for (const entry of entries) this.restore(entry);
    this.journal = new Journal(path, entries, fsync);
    return entries.length;
  }

  /** Writes the journal records made so far (and compacts the file when finished records crowd it). */
  commit(): void {
    const journal = this.journal;
    if (journal === undefined) return;
    journal.commit();
    if (journal.crowded) journal.compact(this.liveBackgroundJobs());
  }

  private restore(entry: JournalEntry): void {
    if (entry.id > this.jobCounter) this.jobCounter = entry.id;
    const priority = entry.priority as Priority;
    const job = withExtra(
      new Job(entry.id, this.queueFor(entry.func), entry.unique, entry.data, priority, true),
      entry,
    );
    this.admit(job, entry.unique === "" ? "" : uniqueKey(entry.unique, entry.data));
  }

  private *liveBackgroundJobs(): Iterable<JournalEntry> {
    for (const job of this.liveJobs.values()) if (job.background) yield journalEntry(job);
  }

  // ── shutdown ─────────────────────────────────────────────────────────────

  /** Resolves once no worker holds a job. */
  drain(): Promise<void> {
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
    this.sleeping.stop();
    for (const job of this.liveJobs.values()) {
      if (job.extra?.epochTimer !== undefined) clearTimeout(job.extra.epochTimer);
      if (job.extra?.workTimer !== undefined) clearTimeout(job.extra.workTimer);
    }
    this.journal?.close();
    this.journal = undefined;
  }
}

/** The job with its epoch and reducer, when it has either. */
function withExtra(job: Job, from: { readonly epoch: number; readonly reducer: string }): Job {
  if (from.epoch > 0 || from.reducer !== "") {
    const extra = job.more();
    extra.epoch = from.epoch;
    extra.reducer = from.reducer;
  }
  return job;
}
