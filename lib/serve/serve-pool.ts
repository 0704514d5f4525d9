/**
 * One pool of a jobsconfig: one GearmanWorker (a connection to every job
 * server, the pool's functions registered once on each) whose concurrency is
 * the pool's worker_count, its slots, and its executor. A job arrives on the
 * worker, takes a free slot, runs on the executor under max_running_time, and
 * ends as one of:
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
import { Occupancy } from "./occupancy.js";
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
  /** Requests at the endpoint (or handler) on average over about the last 10 s. */
  readonly atEndpoint: number;
}

interface RunningJob {
  readonly job: WorkerJob;
  /** Ends the job now with `outcome` (its executor is aborted). */
  end(outcome: JobOutcome, reason: Error): void;
  /** Its job server connection dropped: the executor is aborted, nothing is sent (the server requeues the job). */
  lost(reason: Error): void;
}

function makeExecutor(executor: Executor, slots: number): JobExecutor {
  return executor.kind === "http"
    ? new HttpExecutor({ uri: executor.uri, format: executor.format, sockets: slots })
    : new ModuleExecutor({ specifier: executor.specifier, exportName: executor.exportName, threads: slots });
}

export class ServePool {
  private config: PoolConfig;
  private readonly slots = new Slots();
  private readonly worker: GearmanWorker;
  private executor: JobExecutor;
  /** Jobs running on each executor: a replaced one is closed when its last job ends. */
  private readonly executorJobs = new Map<JobExecutor, number>();
  private readonly running = new Set<RunningJob>();
  private readonly occupancy = new Occupancy();
  private registered: Set<string>;
  private done = 0;
  private failed = 0;
  private timedOutCount = 0;
  private retiring = false;
  /** The worker's connections are being closed on purpose. */
  private closing = false;

  constructor(
    config: PoolConfig,
    private readonly context: PoolContext,
  ) {
    this.config = config;
    this.executor = makeExecutor(config.executor, config.workerCount);
    this.executorJobs.set(this.executor, 0);
    this.registered = this.wantedFunctions();
    this.slots.resize(config.workerCount);
    this.worker = this.makeWorker();
  }

  private maxRunningSeconds(): number {
    return this.config.maxRunningTime ?? this.context.maxRunningTime;
  }

  private makeWorker(): GearmanWorker {
    const { name } = this.config;
    const { log } = this.context;
    const worker = new GearmanWorker({
      servers: this.context.servers.map(formatAddress),
      clientId: `serve:${name}`.replace(/[^\x21-\x7e]/g, "_"),
      // A pool of 0 slots registers nothing (and its worker stays paused; concurrency cannot be 0).
      concurrency: Math.max(1, this.config.workerCount),
      connectTimeoutMs: this.context.connectTimeoutMs,
    });
    const handle = (job: WorkerJob) => this.handle(job);
    for (const func of this.registered) worker.register(func, handle);
    if (this.config.workerCount === 0) worker.pause();
    worker.on("connect", (server: string) => log("info", `pool=${name} connected to ${server}`));
    worker.on("disconnect", (server: string, error: Error) => {
      for (const running of this.running) if (running.job.server === server) running.lost(error);
      if (this.closing) return; // closed on purpose: a removed pool, a stop
      log("warn", `pool=${name} lost ${server}: ${error.message}; reconnecting`);
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
    this.worker.start();
    return this;
  }

  /** The slots, for the status port's `threads`. */
  get slotList(): readonly Slot[] {
    return this.slots.all;
  }

  counts(): PoolCounts {
    return {
      slots: this.slots.all.length,
      busy: this.slots.busy,
      done: this.done,
      failed: this.failed,
      timedOut: this.timedOutCount,
      atEndpoint: this.occupancy.average(),
    };
  }

  view(): SlotView {
    const busyByFunction = new Map<string, number>();
    let idle = 0;
    for (const slot of this.slots.all) {
      if (slot.job) busyByFunction.set(slot.job.func, (busyByFunction.get(slot.job.func) ?? 0) + 1);
      else idle++;
    }
    return {
      pool: this.config.name,
      functions: this.retiring ? [] : this.config.functions,
      idle,
      busyByFunction,
      endpointRequestSeconds: this.occupancy.requestSeconds,
      atEndpoint: this.occupancy.average(),
    };
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
    if (
      !sameExecutor(previous.executor, next.executor) ||
      (next.executor.kind === "module" && previous.workerCount !== next.workerCount)
    ) {
      const old = this.executor;
      this.executor = makeExecutor(next.executor, next.workerCount);
      this.executorJobs.set(this.executor, 0);
      this.releaseExecutor(old, 0);
    } else this.executor.resize?.(next.workerCount);
    this.slots.resize(next.workerCount);
    if (next.workerCount === 0) this.worker.pause();
    else this.worker.setConcurrency(next.workerCount);
    this.syncFunctions();
    if (next.workerCount > 0) this.worker.resume();
  }

  private wantedFunctions(): Set<string> {
    return new Set(this.retiring || this.config.workerCount === 0 ? [] : this.config.functions);
  }

  /**
   * Registers and unregisters the difference. Down to 0 slots, the functions
   * are unregistered once the running jobs have ended (the worker is paused
   * meanwhile): gearmand 1.1.20 answers CANT_DO by requeueing the worker's
   * running jobs of that function and dropping their results.
   */
  private syncFunctions(): void {
    if (this.config.workerCount === 0 && !this.retiring && this.running.size > 0) return;
    const wanted = this.wantedFunctions();
    for (const func of this.registered) if (!wanted.has(func)) this.worker.unregister(func);
    for (const func of wanted)
      if (!this.registered.has(func)) this.worker.register(func, (job: WorkerJob) => this.handle(job));
    this.registered = wanted;
  }

  /**
   * Stops taking jobs: running ones keep their max_running_time (then they
   * fail); resolves when every one has ended and the connections are closed.
   */
  async retire(): Promise<void> {
    this.retiring = true;
    this.closing = true;
    this.slots.resize(0);
    await this.worker.stop({ deadlineMs: this.maxRunningSeconds() * 1000 + 5000 });
    for (const running of this.running) running.end("stopped", stoppedAtOnce());
    await this.closeExecutors();
    this.occupancy.close();
  }

  /** Fails every running job at once and closes (second signal). */
  async abort(): Promise<void> {
    this.retiring = true;
    this.closing = true;
    this.slots.resize(0);
    for (const running of this.running) running.end("stopped", stoppedAtOnce());
    await this.worker.close();
    await this.closeExecutors();
    this.occupancy.close();
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

  private handle(job: WorkerJob): Promise<void> {
    const { name } = this.config;
    const seconds = this.maxRunningSeconds();
    const executor = this.executor;
    this.releaseExecutor(executor, 1);
    const slot = this.slots.take({ func: job.func, handle: job.handle, unique: job.unique, startedAt: Date.now() });
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
        if (this.running.size === 0 && this.config.workerCount === 0) this.syncFunctions();
        this.slots.release(slot);
        this.releaseExecutor(executor, -1);
        resolve();
      };
      const running: RunningJob = {
        job,
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
      const occupancy = this.occupancy;
      occupancy.enter();
      executor.run({ func: job.func, handle: job.handle, unique: job.unique, workload: job.data }, job, abort).then(
        (outcome: Outcome) => {
          occupancy.leave();
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
        },
        (error: unknown) => {
          occupancy.leave();
          running.end("bad_reply", error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }
}
