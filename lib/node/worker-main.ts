/**
 * Entry of a worker node's own process, started by NodeSupervisor with its
 * options as JSON in GLIMPSE_NODE_OPTIONS. Exit status tells the supervisor
 * what to do: 0 after quit or a signal (stay down), RESTART_EXIT_CODE after
 * restart (start again at once).
 */
import { WorkerNode } from "./worker-node.js";
import { RESTART_EXIT_CODE } from "./exit-codes.js";

const raw = process.env.GLIMPSE_NODE_OPTIONS;
if (!raw) {
  process.stderr.write("worker node: GLIMPSE_NODE_OPTIONS is not set (this file is started by `glimpse-cluster launch-worker`)\n");
  process.exit(2);
}
// The supervisor checked these options before it started this process (fillNodeOptions).
const node = new WorkerNode(JSON.parse(raw));
// The supervisor restarts a node that was taken out of service drained.
node.on("state", (state: string) => process.send?.({ type: "state", state }));
node.once("stopped", (reason: string) => {
  process.exitCode = reason === "restart" ? RESTART_EXIT_CODE : 0;
  // The IPC channel to the supervisor would keep this process alive.
  if (process.connected) process.disconnect();
});
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
