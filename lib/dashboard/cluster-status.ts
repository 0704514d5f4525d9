/**
 * A cluster's state as `status` and `ping-workers` show it: every job
 * server's functions (admin `status`, so gearmand too), or why it could not
 * be asked, the worker nodes' ping replies, and what is wrong
 * (cluster-problems.ts).
 *
 *   job servers ──admin status (JobServerWatch)──────────────┐
 *   ping + registrations before and after (takeCensus) ──────┴──► clusterProblems ──► ClusterStatus
 */
import type { JobServerStatus, JobServerWatch } from "./job-server-watch.js";
import type { ClusterControl } from "../control/cluster-control.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";
import { takeCensus } from "../control/node-census.js";
import { clusterProblems, type ClusterProblem } from "./cluster-problems.js";

export interface ClusterStatus {
  /** When it was taken, ms since the epoch. */
  readonly time: number;
  readonly jobServers: readonly JobServerStatus[];
  readonly nodes: readonly NodeStatsSnapshot[];
  /** Empty when nothing is wrong among what could be asked. */
  readonly problems: readonly ClusterProblem[];
}

/** The job servers' queues (through `watch`, kept open between calls), the nodes' ping replies and the problems. */
export async function clusterStatus(
  control: ClusterControl,
  watch: JobServerWatch,
  pingWaitMs: number,
): Promise<ClusterStatus> {
  const [jobServers, census] = await Promise.all([watch.status(), takeCensus(control, pingWaitMs)]);
  return { time: Date.now(), jobServers, nodes: census.replies, problems: clusterProblems(census, jobServers) };
}
