/**
 * A worker node's Prometheus metrics (glimpse_node_*), kept in the node's own
 * process from its "chunk" events and its ping figures. Its supervisor
 * serves them (supervisor-metrics.ts), adding up the processes it ran, so
 * the counters survive a restart of the node.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ChunkEvent, ChunkOutcome, WorkerNode } from "./worker-node.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";
import { PACKAGE_VERSION } from "../version.js";

const OUTCOMES: readonly ChunkOutcome[] = ["done", "failed", "refused", "cancelled", "handed_back"];
/** From a millisecond chunk to a five-minute one. */
export const CHUNK_SECONDS_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** What ping replies carry besides the base figures, once nodes report them (labels, drain state). */
type Described = NodeStatsSnapshot & { readonly labels?: readonly string[]; readonly state?: string };

export function nodeMetrics(node: Pick<WorkerNode, "on" | "snapshot">): Registry {
  const registry = new Registry();
  const registers = [registry];
  const chunks = new Counter({
    name: "glimpse_node_chunks_total",
    help: "Chunks handed to this node, by outcome: done, failed (an item threw, or its thread died), refused (signature), cancelled, handed_back (a draining node gave it back unrun)",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of OUTCOMES) chunks.inc({ outcome }, 0);
  const items = new Counter({
    name: "glimpse_node_items_total",
    help: "Items mapped: those of the chunks done",
    registers,
  });
  const seconds = new Histogram({
    name: "glimpse_node_chunk_seconds",
    help: "Time a chunk took on its thread, from hand-over to its end",
    buckets: CHUNK_SECONDS_BUCKETS,
    registers,
  });
  node.on("chunk", (event: ChunkEvent) => {
    chunks.inc({ outcome: event.outcome });
    if (event.outcome === "done") items.inc(event.items);
    if (event.outcome === "done" || event.outcome === "failed") seconds.observe(event.seconds);
  });
  new Gauge({
    name: "glimpse_node_threads",
    help: "Threads in the node's pool",
    registers,
    collect() {
      this.set(node.snapshot().threads);
    },
  });
  new Gauge({
    name: "glimpse_node_threads_busy",
    help: "Threads running a chunk now",
    registers,
    collect() {
      this.set(node.snapshot().busy);
    },
  });
  new Gauge({
    name: "glimpse_node_chunks_prefetched",
    help: "Chunks the node took that wait on its threads behind a running one, or for a thread",
    registers,
    collect() {
      this.set(node.snapshot().prefetched);
    },
  });
  new Gauge({
    name: "glimpse_node_info",
    help: "Always 1; the labels describe the node (labels: its labels, comma-separated; state: serving, draining or drained)",
    labelNames: ["host", "labels", "state", "version"],
    registers,
    aggregator: "first",
    collect() {
      const snapshot = node.snapshot() as Described;
      this.reset();
      this.set(
        {
          host: snapshot.host,
          labels: (snapshot.labels ?? []).join(","),
          state: snapshot.state ?? "serving",
          version: PACKAGE_VERSION,
        },
        1,
      );
    },
  });
  return registry;
}
