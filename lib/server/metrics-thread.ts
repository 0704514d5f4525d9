/**
 * The job server's /metrics endpoint on a thread of its own. The HTTP
 * server runs in a worker thread; at each scrape it asks the server's
 * thread for JobServer.stats() (a snapshot of plain numbers, a few µs) over
 * the worker's message port, and builds the exposition itself. Served from
 * the server's own thread, the first scrapes under load made V8 throw away
 * the optimized code of the stream functions every Gearman connection runs
 * through (Readable.push, Writable.write: they now also saw the HTTP
 * socket's objects), which cost a fresh server about 6% CPU per job (bench
 * metrics-scrape). A thread has its own heap and compiled code.
 *
 *   scrape ──► HTTP (metrics thread) ──"stats?"──► server thread: stats() ──snapshot──► prom-client text ──► response
 */
import { Worker } from "node:worker_threads";
import type { JobServerStats } from "./job-server.js";
import {
  checkEndpointOptions,
  type MetricsEndpoint,
  type MetricsEndpointOptions,
} from "../metrics/metrics-endpoint.js";

/** Messages between the threads (metrics-thread-main.ts is the other end). */
export type ToServerThread =
  | { readonly type: "stats"; readonly id: number }
  | { readonly type: "listening"; readonly url: string; readonly host: string; readonly port: number }
  | { readonly type: "failed"; readonly message: string };
export type ToMetricsThread =
  { readonly type: "stats"; readonly id: number; readonly stats: JobServerStats } | { readonly type: "close" };

export interface MetricsThreadData {
  readonly port: number;
  readonly host: string;
  /** Whether the server keeps a journal (its gauge is registered only then). */
  readonly journal: boolean;
}

/** Serves `server`'s metrics (jobServerMetrics) from a worker thread; rejects with the reason it could not listen. Throws ArgumentError for a bad port or host. */
export async function serveJobServerMetrics(
  server: { stats(): JobServerStats },
  options: MetricsEndpointOptions,
): Promise<MetricsEndpoint> {
  const { port, host } = checkEndpointOptions(options);
  const workerData: MetricsThreadData = { port, host, journal: server.stats().journal !== undefined };
  const worker = new Worker(new URL("./metrics-thread-main.js", import.meta.url), { workerData });
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  let listened = false;
  const listening = await new Promise<{ url: string; host: string; port: number }>((resolve, reject) => {
    worker.on("message", (message: ToServerThread) => {
      if (message.type === "stats") {
        worker.postMessage({ type: "stats", id: message.id, stats: server.stats() } satisfies ToMetricsThread);
      } else if (message.type === "listening") {
        listened = true;
        resolve({ url: message.url, host: message.host, port: message.port });
      } else {
        reject(new Error(message.message));
      }
    });
    worker.on("error", (error) => {
      // After it listened, a failing metrics thread must not take the job server down with it: the scrapes fail, the jobs go on.
      if (listened)
        process.emitWarning(`job server metrics thread failed: ${error.message}`, { code: "GLIMPSE_METRICS_THREAD" });
      else reject(error);
    });
    void exited.then(() => reject(new Error("the metrics thread exited before it listened")));
  }).catch(async (error: Error) => {
    await worker.terminate();
    throw error;
  });
  return {
    ...listening,
    close: async () => {
      worker.postMessage({ type: "close" } satisfies ToMetricsThread);
      await exited;
    },
  };
}
