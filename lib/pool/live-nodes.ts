/**
 * Which worker nodes are alive right now: those registered for glimpse_map at
 * the job servers (admin `workers`), by their Gearman client ids, which are
 * their node ids. A job server that is down lists no one; the others still count.
 */
import { AdminClient } from "../gearman/admin.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import { MAP_FUNCTION } from "../wire/protocol.js";

export class LiveNodes {
  private readonly admins: AdminClient[];
  /** Job servers whose last `workers` failed, with why; absent once one answered. */
  readonly unreachable = new Map<string, string>();
  /** Job servers that answered at least once. */
  readonly reached = new Set<string>();

  constructor(jobServers: readonly string[], tls: GearmanTlsOptions | undefined) {
    this.admins = jobServers.map((server) => new AdminClient(server, { timeoutMs: 2000, tls }));
    this.servers = jobServers;
  }

  private readonly servers: readonly string[];

  /** The node ids registered at any job server now. */
  async list(): Promise<Set<string>> {
    const found = new Set<string>();
    await Promise.all(
      this.admins.map(async (admin, i) => {
        const server = this.servers[i];
        try {
          for (const worker of await admin.workers()) {
            if (worker.functions.includes(MAP_FUNCTION) && worker.clientId !== "-") found.add(worker.clientId);
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

  async close(): Promise<void> {
    await Promise.allSettled(this.admins.map((admin) => admin.close()));
  }
}
