/**
 * The ping-workers table: HOST PID NREQS ETIME MEAN_ETIME STIME, as the original printed it, plus THREADS, BUSY
 * (threads running a chunk), PREFETCHED (chunks waiting behind them), ITEMS, LABELS (comma-separated, "-" for
 * none) and STATE (serving, draining, drained).
 */
import type { NodeStatsSnapshot } from "../lib/node/node-stats.js";

export function formatPingTable(nodes: readonly NodeStatsSnapshot[]): string {
  const header = [
    "HOST",
    "PID",
    "NREQS",
    "ETIME",
    "MEAN_ETIME",
    "STIME",
    "THREADS",
    "BUSY",
    "PREFETCHED",
    "ITEMS",
    "LABELS",
    "STATE",
  ];
  const rows = [...nodes]
    .sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid)
    .map((n) => [
      n.host,
      String(n.pid),
      String(n.numRequests),
      n.elapsedTime.toFixed(3),
      (n.numRequests === 0 ? 0 : n.elapsedTime / n.numRequests).toFixed(4),
      new Date(n.startTime).toISOString().replace("T", " ").slice(0, 19),
      String(n.threads),
      String(n.busy),
      String(n.prefetched),
      String(n.itemsDone),
      n.labels?.length ? n.labels.join(",") : "-",
      n.state ?? "serving",
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}
