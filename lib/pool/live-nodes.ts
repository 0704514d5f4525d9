/**
 * Which worker nodes are alive right now, from the job servers' admin
 * `workers` listings, by their Gearman client ids (their node ids): a worker
 * registered for glimpse_map or glimpse_map:LABEL, or one registered for
 * nothing whose id is a node's (a drained node: the default `glimpse-node:`
 * ids, or an id heard on the log channel). A job server that is down lists
 * no one; the others still count.
 */
import { AdminClient } from "../gearman/admin.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import { functionLabel } from "../wire/labels.js";

const DEFAULT_NODE_PREFIX = "glimpse-node:";

export class LiveNodes {
  private readonly admins: AdminClient[];
  /** Job servers whose last `workers` failed, with why; absent once one answered. */
  readonly unreachable = new Map<string, string>();
  /** Job servers that answered at least once. */
  readonly reached = new Set<string>();

  /** `known(id)`: whether a client id was heard from as a worker node. */
  constructor(
    jobServers: readonly string[],
    tls: GearmanTlsOptions | undefined,
    private readonly known: (id: string) => boolean = () => false,
  ) {
    this.admins = jobServers.map((server) => new AdminClient(server, { timeoutMs: 2000, tls }));
    this.servers = jobServers;
  }

  private readonly servers: readonly string[];

  /** Each live node's glimpse functions, over every job server. */
  async functions(): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    await Promise.all(
      this.admins.map(async (admin, i) => {
        const server = this.servers[i];
        try {
          for (const worker of await admin.workers()) {
            if (worker.clientId === "-") continue;
            const ours = worker.functions.filter((f) => functionLabel(f) !== undefined);
            const idle =
              worker.functions.length === 0 &&
              (worker.clientId.startsWith(DEFAULT_NODE_PREFIX) || this.known(worker.clientId));
            if (ours.length === 0 && !idle) continue;
            const set = found.get(worker.clientId) ?? new Set<string>();
            for (const f of ours) set.add(f);
            found.set(worker.clientId, set);
          }
          this.unreachable.delete(server);
          this.reached.add(server);
        } catch (error) {
          // This job server is down or does not answer: it lists no one.
          this.unreachable.set(server, (error as Error).message);
        }
      }),
    );
    return found;
  }

  /** The admin connection kept to one of these job servers (for others to ask it more; closed by close()). */
  admin(server: string): AdminClient | undefined {
    const i = this.servers.indexOf(server);
    return i < 0 ? undefined : this.admins[i];
  }

  /** The node ids registered at any job server now. */
  async list(): Promise<Set<string>> {
    return new Set((await this.functions()).keys());
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.admins.map((admin) => admin.close()));
  }
}
