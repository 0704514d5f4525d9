/**
 * Two views of the worker nodes, laid side by side: the job servers' (who is
 * registered where, admin `workers`) and the channels' (who answers a ping).
 * A node in one and not the other takes no chunks, or takes them while no
 * command reaches it, and neither view alone shows it:
 *
 *   registrations before ──┐
 *   ping (waitMs) ─────────┼──► silent:     registered before and after the ping, did not answer it
 *   registrations after ───┘    unlisted:   answered, registered at none of the job servers that answered
 *                               incomplete: answered, registered at some of the job servers that answered, not all
 *
 * A node must be registered both before and after the ping to count as
 * silent: one that registered during it, or left, is not.
 */
import type { NodeStatsSnapshot } from "../channels/messages.js";
import type { ClusterControl } from "./cluster-control.js";
import type { Registrations } from "./node-directory.js";

/** Registered at job servers, and did not answer on the channels. */
export interface SilentNode {
  readonly node: string;
  /** The job servers it is registered at. */
  readonly servers: readonly string[];
  /** The addresses its connections come from, as those servers see them. */
  readonly addresses: readonly string[];
}

/** Answered on the channels, and is registered at none of the job servers that answered (or only some). */
export interface MisregisteredNode {
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** Job servers (that answered) listing it. */
  readonly registeredAt: readonly string[];
  /** Job servers (that answered) not listing it. */
  readonly missingAt: readonly string[];
}

export interface NodeCensus {
  /** The ping replies. */
  readonly replies: readonly NodeStatsSnapshot[];
  readonly silent: readonly SilentNode[];
  /** Registered at no job server that answered: they take no chunks. */
  readonly unlisted: readonly MisregisteredNode[];
  /** Registered at some job servers that answered, not all: they take no chunks queued at the others. */
  readonly incomplete: readonly MisregisteredNode[];
  /** How long the ping waited at most, in ms. */
  readonly waitMs: number;
}

/** Pings the nodes (up to `waitMs`) and compares who answered with who is registered where. */
export async function takeCensus(control: ClusterControl, waitMs: number): Promise<NodeCensus> {
  const before = control.nodes.registrations();
  const replies = await control.commands.ping(waitMs);
  const first = await before;
  const after = await control.nodes.registrations();
  const answered = new Set(replies.map((r) => r.node));
  const reached = control.nodes.jobServers.filter(
    (s) => control.nodes.reached.has(s) && !control.nodes.unreachable.has(s),
  );

  const silent: SilentNode[] = [];
  for (const [node, servers] of after) {
    if (answered.has(node) || !first.has(node)) continue;
    const at = control.nodes.jobServers.filter((s) => servers.has(s));
    silent.push({ node, servers: at, addresses: [...new Set(at.map((s) => servers.get(s)!.ip))] });
  }
  const unlisted: MisregisteredNode[] = [];
  const incomplete: MisregisteredNode[] = [];
  if (reached.length > 0)
    for (const reply of replies) {
      const at = registeredAt(after, reply.node, reached);
      const missing = reached.filter((s) => !at.includes(s));
      if (missing.length === 0) continue;
      const entry = { node: reply.node, host: reply.host, pid: reply.pid, registeredAt: at, missingAt: missing };
      (at.length === 0 ? unlisted : incomplete).push(entry);
    }
  const byNode = (a: { node: string }, b: { node: string }) => a.node.localeCompare(b.node);
  return {
    replies,
    silent: silent.sort(byNode),
    unlisted: unlisted.sort(byNode),
    incomplete: incomplete.sort(byNode),
    waitMs,
  };
}

function registeredAt(registrations: Registrations, node: string, servers: readonly string[]): string[] {
  const at = registrations.get(node);
  return servers.filter((s) => at?.has(s));
}
