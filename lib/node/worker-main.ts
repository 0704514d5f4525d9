/**
 * Entry of a worker node's own process, started by NodeSupervisor with its
 * options as JSON in GLIMPSE_NODE_OPTIONS. Exit status tells the supervisor
 * what to do: 0 after quit or a signal (stay down), RESTART_EXIT_CODE after
 * restart (start again at once).
 */
import { WorkerNode } from "./worker-node.js";
import { RESTART_EXIT_CODE } from "./exit-codes.js";
import { nodeMetrics } from "./node-metrics.js";

const raw = process.env.GLIMPSE_NODE_OPTIONS;
if (!raw) {
  process.stderr.write(
    "worker node: GLIMPSE_NODE_OPTIONS is not set (this file is started by `glimpse-cluster launch-worker`)\n",
  );
  process.exit(2);
}
// The supervisor checked these options before it started this process (fillNodeOptions).
const node = new WorkerNode(JSON.parse(raw));
// Metrics the supervisor asked for: answered over IPC, and sent once more when the node stops (id 0) so its supervisor keeps the last counts.
const metrics = process.env.GLIMPSE_NODE_METRICS === "1" ? nodeMetrics(node) : undefined;
if (metrics) {
  process.on("message", (message: { type?: string; id?: number }) => {
    if (message?.type === "metrics")
      void metrics
        .getMetricsAsJSON()
        .then((json) => process.send?.({ type: "metrics", id: message.id, metrics: json }));
  });
}
// The supervisor restarts a node that was taken out of service drained.
node.on("state", (state: string) => process.send?.({ type: "state", state }));
node.once("stopped", (reason: string) => void afterStop(reason));
async function afterStop(reason: string): Promise<void> {
  process.exitCode = reason === "restart" ? RESTART_EXIT_CODE : 0;
  if (metrics && process.connected) {
    const json = await metrics.getMetricsAsJSON();
    await new Promise<void>((resolve) => process.send!({ type: "metrics", id: 0, metrics: json }, () => resolve()));
  }
  // The IPC channel to the supervisor would keep this process alive.
  if (process.connected) process.disconnect();
}
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => void node.stop("signal"));
}
// The supervisor's IPC channel closes when the supervisor dies: do not outlive it.
process.once("disconnect", () => void node.stop("signal"));
node.start().then(
  () => {
    process.stdout.write(`worker node ${node.id} started (pid ${process.pid})\n`);
    process.send?.({ type: "ready", node: node.id });
  },
  (error: Error) => {
    process.stderr.write(`worker node failed to start: ${error.stack ?? error}\n`);
    process.exit(1);
  },
);
