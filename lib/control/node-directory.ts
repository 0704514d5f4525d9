/**
 * Which worker nodes are alive right now, from the job servers' admin
 * `workers` listings, by their Gearman client ids (their node ids): a worker
 * registered for glimpse_map or glimpse_map:LABEL, or one registered for
 * nothing whose id is a node's (a drained node: the default `glimpse-node:`
 * ids, or an id heard on the log channel). A job server that is down lists
 * no one; the others still count.
 *
 *   job servers ──admin `workers` (one kept connection each)──► registrations() / list() / functions() ──► survey(label)
 *   log channel ──ids heard, the latest ping reply of each node──► knownThreads()
 */
import { AdminClient } from "../gearman/admin.js";
import { reasonAt } from "../gearman/errors.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";
import { functionLabel, labelFunction } from "../wire/labels.js";
import type { NodeSurvey } from "./errors.js";
import type { LogChannel } from "./log-channel.js";

const DEFAULT_NODE_PREFIX = "glimpse-node:";

/** A node's registration at one job server: the address its connection comes from, and its glimpse functions there. */
export interface ServerRegistration {
  readonly ip: string;
  readonly functions: Set<string>;
}

/** Node id → job server → its registration there. */
export type Registrations = Map<string, Map<string, ServerRegistration>>;
/** Node ids heard on the log channel are kept up to this many (a drained node registers no function: only its id tells it is a node). */
const MAX_HEARD = 10_000;

export class NodeDirectory {
  private readonly admins: AdminClient[];
  /** Job servers whose last `workers` failed, with why; absent once one answered. */
  readonly unreachable = new Map<string, string>();
  /** Job servers that answered at least once. */
  readonly reached = new Set<string>();
  private readonly heard = new Set<string>();
  /** Each node's latest ping reply (to any client's ping). */
  private readonly stats = new Map<string, NodeStatsSnapshot>();
  private readonly stopWatching: () => void;

  constructor(
    readonly jobServers: readonly string[],
    tls: GearmanTlsOptions | undefined,
    log: LogChannel,
  ) {
    this.admins = jobServers.map((server) => new AdminClient(server, { timeoutMs: 2000, tls }));
    this.stopWatching = log.watch((envelope) => {
      const message = envelope.message;
      // Progress comes from pools, not nodes: a pool's id is never taken for a drained node's.
      if (message.type !== "progress" && this.heard.size < MAX_HEARD) this.heard.add(envelope.node);
      if (message.type === "pong") this.stats.set(envelope.node, message.stats);
    });
  }

  /**
   * Where each live node is registered now: per job server that lists it,
   * the address its connection comes from and its glimpse functions. A job
   * server that does not answer lists no one (and is kept in `unreachable`).
   */
  async registrations(): Promise<Registrations> {
    const found: Registrations = new Map();
    await Promise.all(
      this.admins.map(async (admin, i) => {
        const server = this.jobServers[i];
        try {
          for (const worker of await admin.workers()) {
            if (worker.clientId === "-") continue;
            const ours = worker.functions.filter((f) => functionLabel(f) !== undefined);
            const idle =
              worker.functions.length === 0 &&
              (worker.clientId.startsWith(DEFAULT_NODE_PREFIX) || this.heard.has(worker.clientId));
            if (ours.length === 0 && !idle) continue;
            const servers = found.get(worker.clientId) ?? new Map<string, ServerRegistration>();
            const entry = servers.get(server) ?? { ip: worker.ip, functions: new Set<string>() };
            for (const f of ours) entry.functions.add(f);
            servers.set(server, entry);
            found.set(worker.clientId, servers);
          }
          this.unreachable.delete(server);
          this.reached.add(server);
        } catch (error) {
          // This job server is down or does not answer: it lists no one.
          this.unreachable.set(server, reasonAt(admin.server, error));
        }
      }),
    );
    return found;
  }

  /** Each live node's glimpse functions, over every job server. */
  async functions(): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    for (const [node, servers] of await this.registrations())
      found.set(node, new Set([...servers.values()].flatMap((entry) => [...entry.functions])));
    return found;
  }

  /** The node ids registered at any job server now. */
  async list(): Promise<Set<string>> {
    return new Set((await this.functions()).keys());
  }

  /**
   * The admin connection kept to one of these job servers, for asking it more
   * without opening another (a status table, the dashboard); it stays the
   * directory's, closed by close(). Undefined for another server.
   */
  admin(server: string): AdminClient | undefined {
    const i = this.jobServers.indexOf(server);
    return i < 0 ? undefined : this.admins[i];
  }

  /** Threads of the nodes heard from so far (0 if none yet). */
  knownThreads(): number {
    let threads = 0;
    for (const node of this.stats.values()) threads += node.threads;
    return threads;
  }

  /**
   * Asks every job server once who serves maps of `label` (glimpse_map without one): undefined when a
   * live node does, or when no job server answered (nothing can be told); else what was found, for
   * NO_NODE (noNodeRegistered).
   */
  async survey(label: string | undefined): Promise<NodeSurvey | undefined> {
    const func = labelFunction(label);
    const live = await this.functions();
    if ([...live.values()].some((functions) => functions.has(func))) return undefined;
    const asked = this.jobServers.filter((server) => !this.unreachable.has(server));
    if (asked.length === 0) return undefined;
    const all = [...live.values()].flatMap((functions) => [...functions]);
    return {
      label,
      func,
      asked,
      unanswered: [...this.unreachable],
      nodes: live.size,
      carried: [...new Set(all.map(functionLabel).filter((l): l is string => !!l))].sort(),
      unlabelled: all.includes(labelFunction(undefined)),
    };
  }

  async close(): Promise<void> {
    this.stopWatching();
    await Promise.allSettled(this.admins.map((admin) => admin.close()));
  }
}
