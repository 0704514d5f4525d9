/**
 * What the dashboard warns of, above everything else on its page and in its
 * snapshot: a broker (a channel endpoint) it cannot reach, whose nodes and
 * maps it then cannot hear; a job server it cannot ask; and jobs queued
 * where no worker can take them (cluster-problems.ts). Each in the words
 * the CLI uses for the same thing.
 */
import type { ChannelEnd } from "../control/reachability.js";
import { unreachedChannels } from "../control/reachability.js";
import { clusterProblems } from "./cluster-problems.js";
import type { JobServerStatus } from "./job-server-watch.js";

export interface DashboardWarning {
  readonly kind: "broker" | "job-server" | "stale-jobs";
  /** The endpoints, or the job server, it concerns. */
  readonly target: string;
  readonly message: string;
}

/** The warnings for channel ends not reached (they are the broker's, in direct mode ends are bound) and the job servers' status. */
export function dashboardWarnings(
  unreached: readonly ChannelEnd[],
  servers: readonly JobServerStatus[],
): DashboardWarning[] {
  const warnings: DashboardWarning[] = [];
  if (unreached.length > 0)
    warnings.push({
      kind: "broker",
      target: unreached.map((end) => end.endpoint).join(", "),
      message: `${unreachedChannels(unreached)}; until it is back, no node, log record or other pool's map is heard`,
    });
  for (const server of servers)
    if (!server.reachable)
      warnings.push({
        kind: "job-server",
        target: server.server,
        message: `could not reach job server ${server.server}: ${server.error ?? "no answer"}`,
      });
  for (const problem of clusterProblems(undefined, servers))
    if (problem.kind === "stale-jobs")
      warnings.push({ kind: "stale-jobs", target: problem.server, message: problem.message });
  return warnings;
}
