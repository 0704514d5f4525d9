/**
 * One pool of a jobsconfig: its slots (each a GearmanWorker of its own on
 * every job server, the pool's functions registered once per connection),
 * and its executor. A job arrives on a slot, runs on the executor under
 * max_running_time, and ends as one of:
 *
 *   complete    WORK_COMPLETE with the endpoint's response_string / the handler's value
 *   exception   WORK_EXCEPTION (gearman_ret ≠ 0, or the handler threw): clients without exceptions get WORK_FAIL
 *   bad_reply   WORK_FAIL, one log line naming pool, function, handle and reason
 *   timeout     WORK_FAIL past max_running_time: the request is aborted / the thread replaced, the slot free at once
 *   lost        its job server connection dropped: nothing to send, the server requeues the job
 *   stopped     WORK_FAIL: serve stopped at once
 */
import { GearmanWorker, type WorkerJob } from "../gearman/index.js";
import type { ServerAddress } from "../gearman/address.js";
import { formatAddress } from "../gearman/address.js";
import { sameExecutor, type Executor, type PoolConfig } from "./jobs-config.js";
import { JobAbort, type JobExecutor, type Outcome } from "./executor.js";
import { HttpExecutor } from "./http-executor.js";
import { ModuleExecutor } from "./module-executor.js";
import { Slots, type Slot } from "./slots.js";
import { stoppedAtOnce, timedOut } from "./errors.js";
import type { JobOutcome, ServeMetrics, SlotView } from "./serve-metrics.js";
import type { ServeLog } from "./serve-log.js";

export interface PoolContext {
  readonly servers: readonly ServerAddress[];
  /** Seconds, for pools without their own max_running_time. */
  readonly maxRunningTime: number;
  readonly connectTimeoutMs: number;
  readonly metrics: ServeMetrics;
  readonly log: ServeLog;
}

export interface PoolCounts {
  readonly slots: number;
  readonly busy: number;
  readonly done: number;
  readonly failed: number;
  readonly timedOut: number;
  /** Idle slots paused so no job server wakes them (LISTENING_SLOTS). */
  readonly parked: number;
}

interface RunningJob {
  readonly job: WorkerJob;
  readonly slot: Slot;
  /** Ends the job now with `outcome` (its executor is aborted). */
  end(outcome: JobOutcome, reason: Error): void;
  /** Its job server connection dropped: the executor is aborted, nothing is sent (the server requeues the job). */
  lost(reason: Error): void;
}

function makeExecutor(executor: Executor, slots: number): JobExecutor {
  return executor.kind === "http" ? new HttpExecutor({ uri: executor.uri, format: executor.format, sockets: slots }) : new ModuleExecutor({ specifier: executor.specifier, exportName: executor.exportName, threads: slots });
}

/**
 * Idle slots that stay asleep at the job servers (PRE_SLEEP) while the pool is idle; its other
 * idle slots are parked: paused, so no server wakes them. A slot parks when its job ends while this
 * many other slots are asleep (the servers had no job for them), and parked slots are resumed as
 * soon as no idle slot listens any more. gearmand wakes every sleeping worker of a function for
 * each job, which made every idle slot of a large pool wake, grab and sleep again per job.
 */
const LISTENING_SLOTS = 2;

export class ServePool {
  private config: PoolConfig;
  private readonly slots: Slots;
  private executor: JobExecutor;
  /** Jobs running on each executor: a replaced one is closed when its last job ends. */
  private readonly executorJobs = new Map<JobExecutor, number>();
  private readonly running = new Set<RunningJob>();
  private registered = new Set<string>();
  /** Per job server, the slots connected to it now: the log speaks of the pool's connection, not of each slot's. */
  private readonly connected = new Map<string, Set<number>>();
  /** Idle slots whose workers are paused (see LISTENING_SLOTS). */
  private readonly parked = new Set<Slot>();
  private done = 0;
  private failed = 0;
  private timedOutCount = 0;
  private retiring = false;

  constructor(config: PoolConfig, private readonly context: PoolContext) {
    this.config = config;
    this.executor = makeExecutor(config.executor, config.workerCount);
    this.executorJobs.set(this.executor, 0);
    this.registered = this.wantedFunctions();
    this.slots = new Slots({ makeWorker: (slot) => this.makeWorker(slot), drainMs: () => this.maxRunningSeconds() * 1000 + 5000 });
    this.slots.resize(config.workerCount);
  }

  /** Idle slots that are not parked nor being removed: asleep at the job servers, or asking them. */
  private listening(): number {
    let n = 0;
    for (const slot of this.slots.all) if (slot.job === undefined && !slot.removing && !this.parked.has(slot)) n++;
    return n;
  }

  /** Idle, unparked slots other than `except` whose workers are asleep at every job server. */
  private asleep(except: Slot): number {
    let n = 0;
    for (const slot of this.slots.all) if (slot !== except && slot.job === undefined && !slot.removing && !this.parked.has(slot) && this.slots.workerOf(slot)?.asleep) n++;
    return n;
  }

  /** Resumes parked slots until LISTENING_SLOTS idle slots listen (after the last listening slot took a job, or slots went). */
  private balance(): void {
    for (const slot of this.parked) {
      if (this.listening() >= LISTENING_SLOTS) return;
      if (slot.removing) this.parked.delete(slot);
      if (slot.job !== undefined || slot.removing) continue;
      this.parked.delete(slot);
      this.slots.workerOf(slot)?.resume();
    }
  }

  private maxRunningSeconds(): number {
    return this.config.maxRunningTime ?? this.context.maxRunningTime;
  }

  private makeWorker(slot: Slot): GearmanWorker {
    const { name } = this.config;
    const { log } = this.context;
    const worker = new GearmanWorker({
      servers: this.context.servers.map(formatAddress),
      clientId: `serve:${name}:${slot.id}`.replace(/[^\x21-\x7e]/g, "_"),
      concurrency: 1,
      connectTimeoutMs: this.context.connectTimeoutMs,
    });
    const handle = (job: WorkerJob) => this.handle(slot, job);
    for (const func of this.registered) worker.register(func, handle);
    if (this.listening() >= LISTENING_SLOTS) {
      worker.pause();
      this.parked.add(slot);
    }
    worker.on("connect", (server: string) => {
      const slots = this.connected.get(server) ?? new Set<number>();
      this.connected.set(server, slots.add(slot.id));
      if (slots.size === 1) log("info", `pool=${name} connected to ${server}`);
    });
    worker.on("disconnect", (server: string, error: Error) => {
      for (const running of this.running) if (running.slot === slot && running.job.server === server) running.lost(error);
      const slots = this.connected.get(server);
      const wasConnected = slots?.delete(slot.id) ?? false;
      if (slot.removing) return; // closed on purpose: a shrink, a removed pool, a stop
      // The pool lost the server when its last slot did; a failed attempt is told once per round, by the first slot.
      const poolWide = wasConnected ? slots!.size === 0 : !slots?.size && this.slots.all[0] === slot;
      log(poolWide ? "warn" : "debug", `pool=${name}${poolWide ? "" : ` slot=${slot.id}`} lost ${server}: ${error.message}; reconnecting`);
    });
    worker.on("error", (error: Error) => log("warn", `pool=${name} job server error: ${error.message}`));
    return worker;
  }

  get name(): string {
    return this.config.name;
  }

  get current(): PoolConfig {
    return this.config;
  }

  start(): this {
    this.slots.start();
    return this;
  }

  /** The slots, for the status port's `threads`. */
  get slotList(): readonly Slot[] {
    return this.slots.all;
  }

  counts(): PoolCounts {
    return { slots: this.slots.all.length, busy: this.slots.busy, done: this.done, failed: this.failed, timedOut: this.timedOutCount, parked: this.parked.size };
  }

  view(): SlotView {
    const busyByFunction = new Map<string, number>();
    let idle = 0;
    for (const slot of this.slots.all) {
      if (slot.job) busyByFunction.set(slot.job.func, (busyByFunction.get(slot.job.func) ?? 0) + 1);
      else idle++;
    }
    return { pool: this.config.name, functions: this.retiring ? [] : this.config.functions, idle, busyByFunction };
  }

  /**
   * Applies a changed config of this pool (same name, same job servers):
   * slots grow or shrink (running jobs untouched), only the difference of
   * functions is registered / unregistered, a new URI, format or module and
   * a new max_running_time apply from the next job.
   */
  update(next: PoolConfig): void {
    const previous = this.config;
    this.config = next;
    if (!sameExecutor(previous.executor, next.executor) || (next.executor.kind === "module" && previous.workerCount !== next.workerCount)) {
      const old = this.executor;
      this.executor = makeExecutor(next.executor, next.workerCount);
      this.executorJobs.set(this.executor, 0);
      this.releaseExecutor(old, 0);
    } else this.executor.resize?.(next.workerCount);
    this.syncFunctions();
    this.slots.resize(next.workerCount);
    this.balance();
  }

  private wantedFunctions(): Set<string> {
    return new Set(this.retiring ? [] : this.config.functions);
  }

  /** Registers and unregisters the difference on every slot that stays (new slots register what is wanted then). */
  private syncFunctions(): void {
    const wanted = this.wantedFunctions();
    for (const [slot, worker] of this.slots.live()) {
      for (const func of this.registered) if (!wanted.has(func)) worker.unregister(func);
      for (const func of wanted) if (!this.registered.has(func)) worker.register(func, (job: WorkerJob) => this.handle(slot, job));
    }
    this.registered = wanted;
  }

  /**
   * Stops taking jobs: running ones keep their max_running_time (then they
   * fail); resolves when every one has ended and the connections are closed.
   */
  async retire(): Promise<void> {
    this.retiring = true;
    await this.slots.removeAll();
    for (const running of this.running) running.end("stopped", stoppedAtOnce());
    await this.closeExecutors();
  }

  /** Fails every running job at once and closes (second signal). */
  async abort(): Promise<void> {
    this.retiring = true;
    for (const running of this.running) running.end("stopped", stoppedAtOnce());
    await this.slots.closeAll();
    await this.closeExecutors();
  }

  private async closeExecutors(): Promise<void> {
    const executors = [...this.executorJobs.keys()];
    this.executorJobs.clear();
    await Promise.all(executors.map((executor) => executor.close()));
  }

  private releaseExecutor(executor: JobExecutor, delta: number): void {
    const jobs = (this.executorJobs.get(executor) ?? 0) + delta;
    if (jobs > 0 || executor === this.executor) this.executorJobs.set(executor, jobs);
    else if (this.executorJobs.delete(executor)) void executor.close();
  }

  private handle(slot: Slot, job: WorkerJob): Promise<void> {
    const { name } = this.config;
    const seconds = this.maxRunningSeconds();
    const executor = this.executor;
    this.releaseExecutor(executor, 1);
    slot.job = { func: job.func, handle: job.handle, unique: job.unique, startedAt: Date.now() };
    // A parked slot can still get a job its grab was already asking for when it was parked.
    this.parked.delete(slot);
    if (this.listening() === 0) this.balance();
    const started = performance.now();
    const abort = new JobAbort();
    const { log, metrics } = this.context;
    const where = () => `pool=${name} function=${job.func} handle=${job.handle}`;
    return new Promise<void>((resolve) => {
      let ended = false;
      const finish = (outcome: JobOutcome, send: () => void, httpStatus?: number) => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        send();
        const elapsed = (performance.now() - started) / 1000;
        if (outcome === "complete") this.done++;
        else if (outcome === "timeout") this.timedOutCount++;
        else if (outcome !== "lost") this.failed++;
        metrics.jobEnded(name, job.func, outcome, elapsed, httpStatus);
        this.running.delete(running);
        slot.job = undefined;
        this.releaseExecutor(executor, -1);
        // Enough slots listen already: this one parks before its worker asks for the next job.
        if (!slot.removing && this.asleep(slot) >= LISTENING_SLOTS) {
          this.slots.workerOf(slot)?.pause();
          this.parked.add(slot);
        }
        resolve();
      };
      const running: RunningJob = {
        job,
        slot,
        end: (outcome, reason) => {
          abort.abort(reason);
          finish(outcome, () => {
            log("warn", `${where()} failed: ${reason.message}`);
            job.fail();
          });
        },
        lost: (reason) => {
          abort.abort(reason);
          finish("lost", () => log("warn", `${where()} abandoned: ${reason.message}; its job server requeues it`));
        },
      };
      this.running.add(running);
      const timer = setTimeout(() => running.end("timeout", timedOut(seconds)), seconds * 1000);
      // The job itself carries what a module handler may send while it runs (status, data).
      executor.run({ func: job.func, handle: job.handle, unique: job.unique, workload: job.data }, job, abort).then((outcome: Outcome) => {
        if (ended) return;
        metrics.endpointTime(name, (performance.now() - started) / 1000);
        if (outcome.kind === "complete") finish("complete", () => job.complete(outcome.data));
        else if (outcome.kind === "exception") finish("exception", () => job.exception(outcome.data));
        else
          finish(
            "bad_reply",
            () => {
              log("warn", `${where()} failed: ${outcome.reason}`);
              job.fail();
            },
            outcome.httpStatus,
          );
      });
    });
  }
}
