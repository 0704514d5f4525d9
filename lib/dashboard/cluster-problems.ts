/**
 * What is wrong with a cluster that answered: nodes the job servers and the
 * channels disagree about (lib/control/node-census.ts), and jobs queued at a
 * job server where no worker can take them. Each problem carries the
 * sentence `status`, `ping-workers` and `status --json` print, naming the
 * node or the server and what it can mean; one that could not be asked is
 * not a problem of this list (the reach lines say it).
 */
import type { NodeCensus } from "../control/node-census.js";
import type { JobServerStatus } from "./job-server-watch.js";

export type ClusterProblem =
  | {
      readonly kind: "silent-node";
      readonly node: string;
      readonly servers: readonly string[];
      readonly addresses: readonly string[];
      readonly message: string;
    }
  | {
      readonly kind: "unregistered-node" | "partly-registered-node";
      readonly node: string;
      readonly host: string;
      readonly pid: number;
      readonly registeredAt: readonly string[];
      readonly missingAt: readonly string[];
      readonly message: string;
    }
  | {
      readonly kind: "stale-jobs";
      readonly server: string;
      readonly function: string;
      readonly queued: number;
      readonly message: string;
    };

const list = (items: readonly string[]) => items.join(", ");
const servers = (items: readonly string[]) => `job server${items.length === 1 ? "" : "s"} ${list(items)}`;
const them = (items: readonly string[]) => (items.length === 1 ? "it" : "them");
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The census's disagreements (none without one: the nodes could not be
 * asked), then each job server's functions with jobs queued and no worker.
 */
export function clusterProblems(
  census: NodeCensus | undefined,
  jobServers: readonly JobServerStatus[],
): ClusterProblem[] {
  const problems: ClusterProblem[] = [];
  const seconds = (census?.waitMs ?? 0) / 1000;
  const { silent = [], unlisted = [], incomplete = [] } = census ?? {};
  for (const n of silent)
    problems.push({
      kind: "silent-node",
      ...n,
      message:
        `worker node ${n.node} (from ${list(n.addresses)}) is registered at ${servers(n.servers)} but did not answer on the channels within ${seconds} s: ` +
        "it cannot reach the broker, it is hung, or it is gone and the job server has not noticed yet",
    });
  for (const n of unlisted)
    problems.push({
      kind: "unregistered-node",
      ...n,
      message:
        `worker node ${n.node} (${n.host}, pid ${n.pid}) answers on the channels but is registered at no job server (${list(n.missingAt)} answered): ` +
        `it takes no chunks; it cannot reach ${them(n.missingAt)}, or its job_server_url names others`,
    });
  for (const n of incomplete)
    problems.push({
      kind: "partly-registered-node",
      ...n,
      message:
        `worker node ${n.node} (${n.host}, pid ${n.pid}) is registered at ${servers(n.registeredAt)} but not at ${list(n.missingAt)}: ` +
        `it takes no chunks queued there; it cannot reach ${them(n.missingAt)}, or its job_server_url does not list ${them(n.missingAt)}`,
    });
  for (const server of jobServers)
    for (const f of server.functions)
      if (f.queued > 0 && f.workers === 0)
        problems.push({
          kind: "stale-jobs",
          server: server.server,
          function: f.name,
          queued: f.queued,
          message:
            `job server ${server.server} holds ${plural(f.queued, "job")} of ${f.name} queued with no worker registered for it: ` +
            "nothing takes them until a node serving it connects (left by a failed map, or its nodes are drained or gone)",
        });
  return problems;
}
