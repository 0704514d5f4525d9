/**
 * Which job server a submission goes to: a job with a unique id to the
 * server its unique hashes to (the same in every client process, so jobs
 * with one unique meet on one server and coalesce), else, and when that
 * server is down, the next connected one in round robin.
 */

/** A server as the choice sees it (a ServerLink). */
export interface Choosable {
  readonly connected: boolean;
}

export class ServerChoice<S extends Choosable> {
  private next = 0;

  constructor(private readonly servers: readonly S[]) {}

  /** The server `unique` hashes to, connected or not. */
  home(unique: string): S {
    return this.servers[fnv1a(unique) % this.servers.length];
  }

  /** A connected server for a job; undefined when none is. */
  pick(unique: string): S | undefined {
    const servers = this.servers;
    if (servers.length === 1) return servers[0].connected ? servers[0] : undefined;
    if (unique !== "") {
      const home = this.home(unique);
      if (home.connected) return home;
    }
    for (let i = 0; i < servers.length; i++) {
      const server = servers[this.next++ % servers.length];
      if (server.connected) return server;
    }
    return undefined;
  }
}

/** FNV-1a over the UTF-16 code units: stable across processes and versions. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
