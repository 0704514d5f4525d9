/**
 * A cluster's state as `status` and the dashboard show it: every job
 * server's functions (admin `status`, so gearmand too), or why it could not
 * be asked, and the worker nodes' ping replies.
 */
import type { JobServerStatus, JobServerWatch } from "./job-server-watch.js";
import type { ClusterControl } from "../control/cluster-control.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";

export interface ClusterStatus {
  /** When it was taken, ms since the epoch. */
  readonly time: number;
  readonly jobServers: readonly JobServerStatus[];
  readonly nodes: readonly NodeStatsSnapshot[];
}

/** The job servers' queues (through `watch`, kept open between calls) and the nodes' ping replies. */
export async function clusterStatus(
  control: ClusterControl,
  watch: JobServerWatch,
  pingWaitMs: number,
): Promise<ClusterStatus> {
  const [jobServers, nodes] = await Promise.all([watch.status(), control.commands.ping(pingWaitMs)]);
  return { time: Date.now(), jobServers, nodes };
}
