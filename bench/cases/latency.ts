/** The round trip of a one-item map, p50 and p99 over 1,000 maps, on a local cluster. */
import { localPool } from "../local-pool.js";
import { percentile } from "../measure.js";
import { ratio, round, type BenchCase } from "../bench-case.js";

const MAPS = 1000;

export const latency: BenchCase = {
  name: "latency",
  workload: `${MAPS} sequential one-item maps of x => x + 1 on a local cluster (embedded job server, one node of 2 threads)`,
  budgetSeconds: 60,
  async run() {
    const pool = await localPool(2);
    try {
      for (let i = 0; i < 50; i++) await pool.map((x: number) => x + 1, [i]);
      const ms: number[] = [];
      for (let i = 0; i < MAPS; i++) {
        const t = performance.now();
        await pool.map((x: number) => x + 1, [i]);
        ms.push(performance.now() - t);
      }
      const p50 = percentile(ms, 50);
      return {
        rows: [{ contender: "glimpse-cluster", setting: "one-item map", "p50 ms": round(p50, 3), "p99 ms": round(percentile(ms, 99), 3) }],
        ratios: [ratio("p50 ms", p50, { text: "≤ 1 ms", met: (v) => v <= 1 })],
        notes: ["Dask client.submit(...).result() is the peer named by the goal; this case has no Dask contender yet."],
      };
    } finally {
      await pool.close();
    }
  },
};
