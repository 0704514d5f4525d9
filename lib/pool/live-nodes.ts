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

  constructor(jobServers: readonly string[], tls: GearmanTlsOptions | undefined) {
    this.admins = jobServers.map((server) => new AdminClient(server, { timeoutMs: 2000, tls }));
  }

  /** The node ids registered at any job server now. */
  async list(): Promise<Set<string>> {
    const found = new Set<string>();
    await Promise.all(
      this.admins.map(async (admin) => {
        try {
          for (const worker of await admin.workers()) {
            if (worker.functions.includes(MAP_FUNCTION) && worker.clientId !== "-") found.add(worker.clientId);
          }
        } catch {
          // This job server is down or does not answer: it lists no one.
        }
      }),
    );
    return found;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.admins.map((admin) => admin.close()));
  }
}
