/**
 * A cluster's state as `status` and the dashboard show it: every job
 * server's functions (admin `status`, so gearmand too), or why it could not
 * be asked, and the worker nodes' ping replies.
 */
import type { JobServerWatch } from "./job-server-watch.js";
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

/** The job servers' queues (through `watch`, kept open between calls) and the nodes' ping replies. */
export async function clusterStatus(
  control: ClusterControl,
  watch: JobServerWatch,
  pingWaitMs: number,
): Promise<ClusterStatus> {
  const [jobServers, nodes] = await Promise.all([watch.status(), control.ping(pingWaitMs)]);
  return { time: Date.now(), jobServers, nodes };
}
