/**
 * Which job server a submission goes to: a job with a unique id to the
 * server its unique hashes to (the same in every client process, so jobs
 * with one unique meet on one server and coalesce), else, and when that
 * server is down or to be avoided, the next connected one in round robin.
 */
import type { ServerLink } from "./server-link.js";

export class ServerChoice {
  private next = 0;

  constructor(private readonly servers: readonly ServerLink[]) {}

  /** The server `unique` hashes to, connected or not. */
  home(unique: string): ServerLink {
    return this.servers[fnv1a(unique) % this.servers.length];
  }

  /** A connected server for a job, other than `avoid` unless it is the only one connected; undefined when none is. */
  pick(unique: string, avoid?: ServerLink): ServerLink | undefined {
    const servers = this.servers;
    if (servers.length === 1) return servers[0].connected ? servers[0] : undefined;
    if (unique !== "") {
      const home = this.home(unique);
      if (home !== avoid && home.connected) return home;
    }
    for (let i = 0; i < servers.length; i++) {
      const server = servers[this.next++ % servers.length];
      if (server !== avoid && server.connected) return server;
    }
    return avoid?.connected ? avoid : undefined;
  }
}

/** FNV-1a over the UTF-16 code units: stable across processes and versions. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
