/** Payload throughput: 1,000 items of 100 KB (Uint8Array) through the pool vs the same bytes through piscina alone. */
import { Piscina } from "piscina";
import { localPool } from "../local-pool.js";
import { median } from "../measure.js";
import { ratio, round, type BenchCase } from "../bench-case.js";

const ITEMS = 1000;
const SIZE = 100 * 1024;
const ROUNDS = 3;

export const payload: BenchCase = {
  name: "payload",
  workload: `${ITEMS} items of ${SIZE / 1024} KB Uint8Array, each returned with its first byte changed, chunksize 10, 2 threads: local cluster vs piscina alone with the same chunks; ${ROUNDS} rounds, medians`,
  budgetSeconds: 90,
  async run() {
    const items = Array.from({ length: ITEMS }, (_, i) => new Uint8Array(SIZE).fill(i % 256));
    const mb = (ITEMS * SIZE * 2) / 1e6; // there and back
    const pool = await localPool(2);
    const piscina = new Piscina({ filename: new URL("../payload-task.js", import.meta.url).href, minThreads: 2, maxThreads: 2 });
    const ours: number[] = [];
    const alone: number[] = [];
    try {
      await pool.map((a: Uint8Array) => a.length, items.slice(0, 10));
      for (let r = 0; r < ROUNDS; r++) {
        let t = performance.now();
        const out = await pool.map((a: Uint8Array) => ((a[0] = 255), a), items, { chunksize: 10 });
        ours.push(mb / ((performance.now() - t) / 1000));
        if (out.length !== ITEMS || out[5][0] !== 255 || out[5][1] !== 5) throw new Error("payload: wrong result from the pool");
        t = performance.now();
        const chunks: Promise<Uint8Array[]>[] = [];
        for (let i = 0; i < ITEMS; i += 10) chunks.push(piscina.run(items.slice(i, i + 10)));
        await Promise.all(chunks);
        alone.push(mb / ((performance.now() - t) / 1000));
      }
    } finally {
      await pool.close();
      await piscina.destroy();
    }
    return {
      rows: [
        { contender: "glimpse-cluster local cluster", setting: "1 node × 2 threads", "MB/s (both ways)": round(median(ours)) },
        { contender: "piscina alone", setting: "2 threads", "MB/s (both ways)": round(median(alone)) },
      ],
      ratios: [ratio("glimpse/piscina alone MB/s", median(ours) / median(alone))],
      notes: ["Through the pool every byte is serialized, crosses the job server twice (client -> server -> node and back) and is copied into and out of the worker thread."],
    };
  },
};
