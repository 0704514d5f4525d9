/** CPU-bound scaling: a fixed ~20 ms of arithmetic per item, 64 items, sequential in one thread vs pool.map on one node with 2 threads. */
import { localPool } from "../local-pool.js";
import { ratio, round, type BenchCase } from "../bench-case.js";

/** About 20 ms of floating-point work on this class of machine; the same on every node. */
function burn(seed: number): number {
  let x = seed;
  for (let i = 0; i < 1_000_000; i++) x = Math.sin(x) + Math.sqrt(i);
  return x;
}

export const cpuScaling: BenchCase = {
  name: "cpu-scaling",
  workload: "64 items of a fixed floating-point loop (~20 ms each): sequential in the bench process vs pool.map on a local cluster with one node of 2 threads, chunksize 1",
  budgetSeconds: 60,
  async run() {
    const items = Array.from({ length: 64 }, (_, i) => i);
    const pool = await localPool(2);
    try {
      await pool.map(burn, [0, 1], { chunksize: 1 }); // warm up both threads
      let t = performance.now();
      const expected = items.map(burn);
      const sequential = (performance.now() - t) / 1000;
      t = performance.now();
      const out = await pool.map(burn, items, { chunksize: 1 });
      const parallel = (performance.now() - t) / 1000;
      if (out.some((v, i) => v !== expected[i])) throw new Error("cpu-scaling: the pool's results differ from the sequential ones");
      return {
        rows: [
          { contender: "sequential", setting: "1 thread", seconds: round(sequential, 3), "ms per item": round((sequential * 1000) / items.length, 2) },
          { contender: "glimpse-cluster", setting: "1 node × 2 threads", seconds: round(parallel, 3), "ms per item": round((parallel * 1000) / items.length, 2) },
        ],
        ratios: [ratio("speedup", sequential / parallel, { text: "≥ 1.9 (limit 2.0)", met: (v) => v >= 1.9 })],
        notes: ["The client process is idle while the pool runs, so both threads get a core."],
      };
    } finally {
      await pool.close();
    }
  },
};
