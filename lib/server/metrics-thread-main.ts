/**
 * The metrics thread (metrics-thread.ts starts it): GET /metrics with the
 * job server's registry, whose figures it asks the server's thread for at
 * each scrape.
 */
import { parentPort, workerData } from "node:worker_threads";
import { jobServerMetrics } from "./server-metrics.js";
import { serveMetrics } from "../metrics/metrics-endpoint.js";
import type { JobServerStats } from "./job-server.js";
import type { MetricsThreadData, ToMetricsThread, ToServerThread } from "./metrics-thread.js";

const port = parentPort!;
const data = workerData as MetricsThreadData;
const send = (message: ToServerThread) => port.postMessage(message);

const asked = new Map<number, (stats: JobServerStats) => void>();
let asking = 0;
let latest: JobServerStats = {
  functions: [],
  connections: 0,
  bytesReceived: 0,
  bytesSent: 0,
  journal: data.journal ? { path: "", bytes: 0 } : undefined,
};
const ask = () =>
  new Promise<JobServerStats>((resolve) => {
    const id = ++asking;
    asked.set(id, resolve);
    send({ type: "stats", id });
  });

const registry = jobServerMetrics({ stats: () => latest });
const source = {
  contentType: registry.contentType,
  async metrics(): Promise<string> {
    latest = await ask();
    return registry.metrics();
  },
};

try {
  const endpoint = await serveMetrics(source, { port: data.port, host: data.host });
  port.on("message", (message: ToMetricsThread) => {
    if (message.type === "stats") {
      asked.get(message.id)?.(message.stats);
      asked.delete(message.id);
    } else {
      void endpoint.close().then(() => port.close());
    }
  });
  send({ type: "listening", url: endpoint.url, host: endpoint.host, port: endpoint.port });
} catch (error) {
  send({ type: "failed", message: (error as Error).message });
  port.close();
}
