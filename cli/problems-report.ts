/**
 * The verdict of the commands that look at a cluster (ping-workers, status),
 * for monitoring: exit 0 when everything asked answered and nothing is
 * wrong, 3 (degraded) when a job server could not be reached or a problem
 * was found (each said on a line of its own), and 1, earlier
 * (reach-report.ts), when they could not look at all.
 */
import type { ClusterProblem } from "../lib/dashboard/cluster-problems.js";
import type { Reach } from "../lib/control/reachability.js";
import { degradedSaid } from "./errors.js";

export function judgeHealth(problems: readonly ClusterProblem[], reach: Reach): void {
  if (problems.length > 0 || reach.jobServers.some((s) => !s.reached)) throw degradedSaid();
}

/** The problems as status prints them after its tables: a PROBLEMS heading and a line each; nothing when none. */
export function formatProblems(problems: readonly ClusterProblem[]): string {
  return problems.length === 0 ? "" : `\nPROBLEMS\n${problems.map((p) => `${p.message}\n`).join("")}`;
}
