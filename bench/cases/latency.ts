/** The round trip of a one-item map, p50 and p99 over 1,000 maps, on a local cluster, against Dask's client.submit(...).result(). */
import { localPool } from "../local-pool.js";
import { percentile } from "../measure.js";
import { ratio, round, skippedRow, type BenchCase, type Row } from "../bench-case.js";
import { DASK_SETTING, daskRoundTrips, daskVersion } from "../python-peers.js";

const MAPS = 1000;

export const latency: BenchCase = {
  name: "latency",
  workload: `${MAPS} sequential one-item maps of x => x + 1 on a local cluster (embedded job server, one node of 2 threads), then ${MAPS} Dask client.submit(inc, i).result() round trips on ${DASK_SETTING}`,
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
      await pool.close();
      const rows: Row[] = [{ contender: "glimpse-cluster", setting: "one-item map", "p50 ms": round(p50, 3), "p99 ms": round(percentile(ms, 99), 3) }];
      const ratios = [ratio("p50 ms", p50, { text: "≤ 1 ms", met: (v) => v <= 1 })];
      const version = daskVersion();
      const dask = version ? daskRoundTrips(MAPS) : "python3-distributed is not installed (bench/setup-peers.sh installs it)";
      if (typeof dask !== "string") {
        const daskP50 = percentile(dask, 50);
        rows.push({ contender: `Dask ${version}`, setting: "client.submit(...).result()", "p50 ms": round(daskP50, 3), "p99 ms": round(percentile(dask, 99), 3) });
        ratios.push(ratio("glimpse p50 / Dask p50", p50 / daskP50));
      } else rows.push(skippedRow("Dask", dask));
      return { rows, ratios, notes: [] };
    } finally {
      await pool.close();
    }
  },
};
