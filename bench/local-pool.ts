/** A local cluster pool for the pool cases: one worker node with `threads` threads, on the embedded job server. */
import { MakePool, type ClusterPool } from "../lib/index.js";

export function localPool(threads: number): Promise<ClusterPool> {
  return MakePool(undefined, { local: { workers: 1, threads } });
}
