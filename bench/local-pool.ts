/**
 * A local cluster pool for the pool cases: one worker node with `threads` threads on the embedded job
 * server. Default as MakePool() makes it (Unix sockets in a private directory, unsigned); `signed: true`
 * is the loopback TCP cluster that signs every chunk and result, as a cluster over machines does.
 */
import { MakePool, type ClusterPool } from "../lib/index.js";

export function localPool(threads: number, options: { signed?: boolean } = {}): Promise<ClusterPool> {
  return MakePool(undefined, { local: { workers: 1, threads, secret: options.signed ?? false } });
}
