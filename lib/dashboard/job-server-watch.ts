/**
 * The job servers' queues, asked again and again (the dashboard every
 * second, `status --watch` every few) over one admin connection per server
 * kept open between askings: the node directory's own when there is one
 * (lib/control). A fresh connection per asking would make every server
 * accept, and gearmand log, a connection a second for as long as a page is
 * open. AdminClient opens its connection again on the next command
 * once it dropped, so a server that was down or restarted is shown again at
 * the next asking; one that cannot be reached is a row saying why.
 */
import { AdminClient } from "../gearman/admin.js";
import { reasonAt } from "../gearman/errors.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";

export interface FunctionRow {
  readonly name: string;
  /** Jobs waiting for a worker (admin status TOTAL minus RUNNING). */
  readonly queued: number;
  readonly running: number;
  readonly workers: number;
}

export interface JobServerStatus {
  readonly server: string;
  readonly reachable: boolean;
  /** Why it could not be asked, when unreachable. */
  readonly error?: string;
  readonly functions: readonly FunctionRow[];
}

export class JobServerWatch {
  /** Each server as the config names it, with its admin client, and whether this watch opened it (and closes it). */
  private readonly admins: readonly { readonly server: string; readonly admin: AdminClient; readonly own: boolean }[];

  /**
   * `kept(server)`: an admin client already open to that server to use
   * instead of opening one (a ClusterControl's nodes.admin(server): the one
   * it finds the live nodes with), left to its owner to close. `timeoutMs`
   * bounds each asking of the servers this watch opens, connecting
   * included. Throws ArgumentError for an address that does not parse.
   */
  constructor(
    servers: readonly string[],
    tls: GearmanTlsOptions | undefined,
    timeoutMs = 2000,
    kept: (server: string) => AdminClient | undefined = () => undefined,
  ) {
    this.admins = servers.map((server) => {
      const admin = kept(server);
      return admin
        ? { server, admin, own: false }
        : { server, admin: new AdminClient(server, { timeoutMs, tls }), own: true };
    });
  }

  /** Asks every job server in parallel; one that fails is a row saying why, never an error. */
  status(): Promise<JobServerStatus[]> {
    return Promise.all(this.admins.map(({ server, admin }) => ask(server, admin)));
  }

  async close(): Promise<void> {
    await Promise.all(this.admins.filter(({ own }) => own).map(({ admin }) => admin.close().catch(() => {})));
  }
}

async function ask(server: string, admin: AdminClient): Promise<JobServerStatus> {
  try {
    const functions = (await admin.status()).map((f) => ({
      name: f.func,
      queued: Math.max(0, f.total - f.running),
      running: f.running,
      workers: f.workers,
    }));
    return { server, reachable: true, functions };
  } catch (error) {
    return { server, reachable: false, error: reasonAt(admin.server, error), functions: [] };
  }
}
