/**
 * The piscina pools this project runs code on: a worker node's chunk threads
 * (node/chunk-threads.ts) and serve's module executors
 * (serve/module-executor.ts). Each has a fixed number of threads, all started
 * with the pool and kept: a thread's start-up (its isolate, the runner's
 * imports) is paid before the first task, never in the middle of a run, and
 * no idle timeout ends a thread between tasks.
 *
 *   fixedThreadPool(runner file) ──► `threads` threads, each running up to `tasksPerThread` tasks at once
 *        run(task) ──► the runner's default export(task) on one of them ──► its result, cloned or moved back
 */
import { Piscina } from "piscina";
import type { ResourceLimits } from "node:worker_threads";

export interface ThreadPoolOptions {
  /** Threads, started with the pool and kept (a whole number ≥ 1). */
  readonly threads: number;
  /** Tasks a thread holds at once: the one it runs and those queued behind it (≥ 1). */
  readonly tasksPerThread: number;
  /** Memory limits of each thread. Default: Node's. */
  readonly resourceLimits?: ResourceLimits;
  /** Given to every thread (Piscina.workerData there). */
  readonly workerData?: unknown;
}

/**
 * A pool whose threads run `runner`'s default export. No queue limit of
 * piscina's own: each user bounds the tasks it hands over (a node by its
 * Gearman concurrency, serve by its slots).
 */
export function fixedThreadPool(runner: URL, options: ThreadPoolOptions): Piscina {
  return new Piscina({
    filename: runner.href,
    minThreads: options.threads,
    maxThreads: options.threads,
    concurrentTasksPerWorker: options.tasksPerThread,
    resourceLimits: options.resourceLimits,
    workerData: options.workerData,
  });
}
