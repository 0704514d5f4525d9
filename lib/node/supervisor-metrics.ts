/**
 * What `launch-worker --metrics-port` serves: the node process's metrics,
 * asked at each scrape, added to the counts of the processes the supervisor
 * ran before it (so a restart does not reset glimpse_node_chunks_total), and
 * the supervisor's own glimpse_node_restarts_total.
 */
import { AggregatorRegistry, Counter, Registry } from "prom-client";
import type { NodeMetricsJson, NodeSupervisor } from "./node-supervisor.js";

/** Only counts carry over from a process that ended; its gauges ended with it. */
const CARRIED = new Set(["counter", "histogram"]);

export class SupervisorMetrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly own = new Registry();
  /** Counts of the node processes that ended. */
  private retired: NodeMetricsJson = [];
  /** The last figures each running process sent, by pid. */
  private readonly latest = new Map<number, NodeMetricsJson>();

  constructor(private readonly supervisor: NodeSupervisor) {
    new Counter({
      name: "glimpse_node_restarts_total",
      help: "Times the supervisor started the node process again (after restart-workers or a crash)",
      registers: [this.own],
      collect() {
        this.reset();
        this.inc(Math.max(0, supervisor.starts - 1));
      },
    });
    supervisor.on("metrics", (json: NodeMetricsJson, pid: number) => this.latest.set(pid, json));
    supervisor.on("exit", () => void this.retire());
  }

  /** Folds the figures of processes no longer running into the retired counts (the last message of a process precedes its exit). */
  private async retire(): Promise<void> {
    const running = this.supervisor.pid;
    for (const [pid, json] of this.latest) {
      if (pid === running) continue;
      this.latest.delete(pid);
      const merged = await AggregatorRegistry.aggregate([
        this.retired,
        json.filter((m) => CARRIED.has(String(m.type))),
      ]).getMetricsAsJSON();
      this.retired = merged;
    }
  }

  async metrics(): Promise<string> {
    const pid = this.supervisor.pid;
    const current = (await this.supervisor.metricsOfNode()) ?? (pid === undefined ? undefined : this.latest.get(pid));
    await this.retire();
    const own = await this.own.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([this.retired, current ?? [], own]).metrics();
  }
}
