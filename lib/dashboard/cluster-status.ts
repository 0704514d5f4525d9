/**
 * A cluster's state as `status` and the dashboard show it: every job
 * server's functions (admin `status`, so gearmand too), or why it could not
 * be asked, and the worker nodes' ping replies.
 */
import { AdminClient } from "../gearman/admin.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import type { ClusterControl, NodeStats } from "../pool/cluster-control.js";

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
