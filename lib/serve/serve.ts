/**
 * `glimpse-cluster serve` as a library: runs a jobsconfig's pools, applies a
 * changed jobsconfig without disturbing the pools it leaves alone, and stops
 * gracefully or at once.
 *
 *   open(): read, module pools checked (module-check.ts) ──► start(): pools started
 *   reload(): read, new or changed modules checked ──► added pools start, removed ones retire
 *             (running jobs keep max_running_time), changed ones update in place;
 *             an invalid file or module changes nothing (logged); reloads run one after another
 *   stop(): every pool retires ── abort(): running jobs fail at once
 */
import { checkFunction } from "../node/function-policy.js";
import { formatAddress } from "../gearman/address.js";
import { JobsConfigError } from "./errors.js";
import { loadJobsConfig, sameExecutor, type JobsConfig, type PoolConfig } from "./jobs-config.js";
import { ServePool, type PoolCounts } from "./serve-pool.js";
import { ServeMetrics } from "./serve-metrics.js";
import type { ServeLog } from "./serve-log.js";
import { fillServeOptions, type FilledServeOptions, type ServeOptions } from "./serve-options.js";
import type { Slot } from "./slots.js";
import { ConfigWatcher } from "./config-watcher.js";
import { moduleProblem } from "./module-check.js";
import path from "node:path";

export type { ServeOptions } from "./serve-options.js";

export interface PoolSlots {
  readonly pool: string;
  readonly slots: readonly Slot[];
}

export interface PoolSummary extends PoolCounts {
  readonly pool: string;
  readonly retiring: boolean;
}

const samePool = (a: PoolConfig, b: PoolConfig) =>
  a.workerCount === b.workerCount &&
  a.maxRunningTime === b.maxRunningTime &&
  sameExecutor(a.executor, b.executor) &&
  a.functions.join("\0") === b.functions.join("\0");

export class Serve {
  readonly metrics: ServeMetrics;
  /** Set by open(), before anyone else sees the instance. */
  private config!: JobsConfig;
  private readonly pools = new Map<string, ServePool>();
  private readonly retiring = new Set<ServePool>();
  private readonly retirements = new Set<Promise<void>>();
  private readonly log: ServeLog;
  private readonly maxRunningTime: number;
  private readonly connectTimeoutMs: number;
  private stopped = false;
  private watcher: ConfigWatcher | undefined;
  /** The reload running now: the next one waits for it. */
  private reloading: Promise<unknown> = Promise.resolve();

  private readonly options: FilledServeOptions;

  /**
   * Reads and checks the jobsconfig, and loads each module pool's module once in a thread of its own to see that
   * it exports a function: rejects with a JobsConfigError naming file, pool and key. start() runs it. A bad
   * option is an ArgumentError.
   */
  static async open(options: ServeOptions): Promise<Serve> {
    const serve = new Serve(options);
    serve.config = await serve.read(undefined);
    return serve;
  }

  private constructor(options: ServeOptions) {
    this.options = fillServeOptions(options);
    this.log = this.options.log;
    this.maxRunningTime = this.options.maxRunningTime;
    this.connectTimeoutMs = this.options.connectTimeoutMs;
    this.metrics = new ServeMetrics(() => this.allPools().map((pool) => pool.view()));
  }

  get file(): string {
    return this.config.file;
  }

  /**
   * Reads the jobsconfig; checks each module pool against the function policy, then (unless `running` has the
   * same module for it already) that its module loads and exports a function.
   */
  private async read(running: JobsConfig | undefined): Promise<JobsConfig> {
    const config = loadJobsConfig(this.options.jobsConfig);
    const policy = this.options.policy?.(config.servers.map(formatAddress));
    const modules = [...config.pools.values()].flatMap(({ name, executor }) =>
      executor.kind === "module" ? [{ name, executor }] : [],
    );
    for (const { name, executor } of modules) {
      if (!policy) break;
      try {
        checkFunction({ kind: "module", specifier: executor.specifier, exportName: executor.exportName }, policy);
      } catch (error) {
        throw new JobsConfigError(config.file, name, "job_processing_module", (error as Error).message);
      }
    }
    // Each module new to the running config is loaded once in a thread of its own; all of them at once.
    const unchecked = modules.filter(({ name, executor }) => {
      const before = running?.pools.get(name);
      return !before || !sameExecutor(before.executor, executor);
    });
    const problems = await Promise.all(
      unchecked.map(({ executor }) => moduleProblem(executor.specifier, executor.exportName)),
    );
    problems.forEach((problem, i) => {
      if (problem !== undefined)
        throw new JobsConfigError(config.file, unchecked[i].name, "job_processing_module", problem);
    });
    return config;
  }

  start(): this {
    for (const pool of this.config.pools.values()) this.startPool(pool);
    if (this.options.watch !== false) {
      try {
        this.watcher = new ConfigWatcher(this.config.file, () => void this.reload());
      } catch (error) {
        // e.g. --user switched to a user who may not read the jobsconfig's directory: serving matters more than watching.
        this.log(
          "warn",
          `cannot watch ${path.dirname(this.config.file)} for changes to ${path.basename(this.config.file)}: ${(error as Error).message}; it is read again on SIGHUP only`,
        );
      }
    }
    this.log(
      "info",
      `serving ${this.config.pools.size} pool(s) from ${this.config.file} on ${this.config.servers.map(formatAddress).join(", ")}`,
    );
    return this;
  }

  private startPool(config: PoolConfig): void {
    const pool = new ServePool(config, {
      servers: this.config.servers,
      maxRunningTime: this.maxRunningTime,
      connectTimeoutMs: this.connectTimeoutMs,
      metrics: this.metrics,
      log: this.log,
    });
    this.pools.set(config.name, pool);
    pool.start();
  }

  private retire(pool: ServePool): void {
    this.pools.delete(pool.name);
    this.retiring.add(pool);
    const done = pool.retire().finally(() => {
      this.retiring.delete(pool);
      this.retirements.delete(done);
    });
    this.retirements.add(done);
  }

  private allPools(): ServePool[] {
    return [...this.pools.values(), ...this.retiring];
  }

  /**
   * Reads the jobsconfig again and applies the difference, after the reload
   * before it. An invalid file, or a module that does not load or exports no
   * function, is logged with its reason and the running config stays:
   * resolves with the error, or undefined when the new config applies.
   */
  reload(): Promise<Error | undefined> {
    const done = this.reloading.then(() => this.reloadNow());
    this.reloading = done;
    return done;
  }

  private async reloadNow(): Promise<Error | undefined> {
    if (this.stopped) return undefined;
    this.watcher?.seen();
    let next: JobsConfig;
    try {
      next = await this.read(this.config);
    } catch (error) {
      this.log("error", `${(error as Error).message}; the running config stays`);
      return error as Error;
    }
    if (this.stopped) return undefined;
    const serversChanged =
      next.servers.map(formatAddress).join(",") !== this.config.servers.map(formatAddress).join(",");
    const changes: string[] = [];
    for (const pool of [...this.pools.values()]) {
      if (!next.pools.has(pool.name) || serversChanged) {
        this.retire(pool);
        changes.push(`${pool.name} removed`);
      }
    }
    this.config = next;
    for (const config of next.pools.values()) {
      const pool = this.pools.get(config.name);
      if (!pool) {
        this.startPool(config);
        changes.push(`${config.name} added`);
      } else if (!samePool(pool.current, config)) {
        pool.update(config);
        changes.push(`${config.name} changed`);
      }
    }
    this.log("info", `reloaded ${next.file}: ${changes.length ? changes.join(", ") : "nothing changed"}`);
    return undefined;
  }

  /** Every slot by pool, retiring pools included (their slots flagged for removal). */
  slots(): PoolSlots[] {
    return this.allPools().map((pool) => ({ pool: pool.name, slots: pool.slotList }));
  }

  summaries(): PoolSummary[] {
    return [
      ...[...this.pools.values()].map((pool) => ({ pool: pool.name, retiring: false, ...pool.counts() })),
      ...[...this.retiring].map((pool) => ({ pool: pool.name, retiring: true, ...pool.counts() })),
    ];
  }

  /** Graceful stop: no new jobs; running ones get their max_running_time, then fail. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    for (const pool of [...this.pools.values()]) this.retire(pool);
    while (this.retirements.size > 0) await Promise.all(this.retirements);
  }

  /** Stops at once: running jobs fail now. */
  async abort(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    const pools = this.allPools();
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.abort()));
  }
}
