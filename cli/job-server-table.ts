/** The job servers' table of `status`: SERVER FUNCTION QUEUED RUNNING WORKERS, a row per function, and a row for a server that could not be asked. */
import type { JobServerStatus } from "../lib/dashboard/job-server-watch.js";

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => r[i]?.length ?? 0)),
  );
  return [header, ...rows]
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function formatJobServerTable(servers: readonly JobServerStatus[]): string {
  const rows: string[][] = [];
  for (const s of servers) {
    if (!s.reachable) rows.push([s.server, `unreachable: ${s.error ?? "no answer"}`]);
    else if (s.functions.length === 0) rows.push([s.server, "-", "0", "0", "0"]);
    else
      for (const f of s.functions)
        rows.push([s.server, f.name, String(f.queued), String(f.running), String(f.workers)]);
  }
  return table(["SERVER", "FUNCTION", "QUEUED", "RUNNING", "WORKERS"], rows);
}
