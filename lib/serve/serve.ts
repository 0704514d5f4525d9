/**
 * `glimpse-cluster serve` as a library: runs a jobsconfig's pools, applies a
 * changed jobsconfig without disturbing the pools it leaves alone, and stops
 * gracefully or at once.
 *
 *   load ──► pools started ──► reload(): added pools start, removed ones retire
 *                               (running jobs keep max_running_time), changed ones
 *                               update in place; an invalid file changes nothing
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
  private config: JobsConfig;
  private readonly pools = new Map<string, ServePool>();
  private readonly retiring = new Set<ServePool>();
  private readonly retirements = new Set<Promise<void>>();
  private readonly log: ServeLog;
  private readonly maxRunningTime: number;
  private readonly connectTimeoutMs: number;
  private stopped = false;
  private watcher: ConfigWatcher | undefined;

  private readonly options: FilledServeOptions;

  /** Reads and checks the jobsconfig (a JobsConfigError names file, pool and key); start() runs it. A bad option is an ArgumentError. */
  constructor(options: ServeOptions) {
    this.options = fillServeOptions(options);
    this.log = this.options.log;
    this.maxRunningTime = this.options.maxRunningTime;
    this.connectTimeoutMs = this.options.connectTimeoutMs;
    this.metrics = new ServeMetrics(() => this.allPools().map((pool) => pool.view()));
    this.config = this.read();
  }

  get file(): string {
    return this.config.file;
  }

  private read(): JobsConfig {
    const config = loadJobsConfig(this.options.jobsConfig);
    const policy = this.options.policy?.(config.servers.map(formatAddress));
    if (policy) {
      for (const pool of config.pools.values()) {
        if (pool.executor.kind !== "module") continue;
        try {
          checkFunction(
            { kind: "module", specifier: pool.executor.specifier, exportName: pool.executor.exportName },
            policy,
          );
        } catch (error) {
          throw new JobsConfigError(config.file, pool.name, "job_processing_module", (error as Error).message);
        }
      }
    }
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
   * Reads the jobsconfig again and applies the difference. An invalid file
   * is logged with its reason and the running config stays: returns the
   * error, or undefined when the new config applies.
   */
  reload(): Error | undefined {
    if (this.stopped) return undefined;
    this.watcher?.seen();
    let next: JobsConfig;
    try {
      next = this.read();
    } catch (error) {
      this.log("error", `${(error as Error).message}; the running config stays`);
      return error as Error;
    }
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
