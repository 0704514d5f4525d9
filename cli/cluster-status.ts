/**
 * A cluster's state as `status` and the dashboard show it: every job
 * server's functions (admin `status`, so gearmand too), or why it could not
 * be asked, and the worker nodes' ping replies.
 */
import { AdminClient } from "../lib/gearman/admin.js";
import type { GearmanTlsOptions } from "../lib/gearman/transport.js";
import type { ClusterControl, NodeStats } from "../lib/pool/cluster-control.js";

export interface FunctionRow {
  readonly name: string;
  /** Jobs waiting for a worker (admin status TOTAL minus RUNNING). */
  readonly queued: number;
  readonly running: number;
  readonly workers: number;
}

export interface JobServerStatus {
  readonly server: string;
  readonly reachable: boolean;
  /** Why it could not be asked, when unreachable. */
  readonly error?: string;
  readonly functions: readonly FunctionRow[];
}

export interface ClusterStatus {
  /** When it was taken, ms since the epoch. */
  readonly time: number;
  readonly jobServers: readonly JobServerStatus[];
  readonly nodes: readonly NodeStats[];
}

/** Asks every job server in parallel; one that fails is a row saying why, never an error. */
export async function jobServerStatus(servers: readonly string[], tls: GearmanTlsOptions | undefined, timeoutMs = 2000): Promise<JobServerStatus[]> {
  return Promise.all(
    servers.map(async (server): Promise<JobServerStatus> => {
      const admin = new AdminClient(server, { timeoutMs, tls });
      try {
        const functions = (await admin.status()).map((f) => ({ name: f.func, queued: Math.max(0, f.total - f.running), running: f.running, workers: f.workers }));
        return { server, reachable: true, functions };
      } catch (error) {
        const message = (error as Error).message;
        return { server, reachable: false, error: message.startsWith(`${server}: `) ? message.slice(server.length + 2) : message, functions: [] };
      } finally {
        await admin.close().catch(() => {});
      }
    }),
  );
}

export async function clusterStatus(control: ClusterControl, servers: readonly string[], tls: GearmanTlsOptions | undefined, pingWaitMs: number): Promise<ClusterStatus> {
  const [jobServers, nodes] = await Promise.all([jobServerStatus(servers, tls), control.ping(pingWaitMs)]);
  return { time: Date.now(), jobServers, nodes };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((r) => r.length > 1).map((r) => r[i]?.length ?? 0)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]))).join("  ").trimEnd()).join("\n");
}

/** The job servers' table: SERVER FUNCTION QUEUED RUNNING WORKERS, one row per function, and a row for a server that could not be asked. */
export function formatJobServerTable(servers: readonly JobServerStatus[]): string {
  const rows: string[][] = [];
  for (const s of servers) {
    if (!s.reachable) rows.push([s.server, `unreachable: ${s.error ?? "no answer"}`]);
    else if (s.functions.length === 0) rows.push([s.server, "-", "0", "0", "0"]);
    else for (const f of s.functions) rows.push([s.server, f.name, String(f.queued), String(f.running), String(f.workers)]);
  }
  return table(["SERVER", "FUNCTION", "QUEUED", "RUNNING", "WORKERS"], rows);
}
