/**
 * CPU-bound scaling: a fixed ~20 ms of arithmetic per item, 64 items, sequential in one thread vs
 * pool.map on one node with 2 threads; and, as this machine's ceiling, the same items on 2 bare
 * worker_threads fed one item at a time.
 */
import { Worker } from "node:worker_threads";
import { localPool } from "../local-pool.js";
import { ratio, round, type BenchCase } from "../bench-case.js";

/** About 20 ms of floating-point work on this class of machine; the same on every node. */
function burn(seed: number): number {
  let x = seed;
  for (let i = 0; i < 1_000_000; i++) x = Math.sin(x) + Math.sqrt(i);
  return x;
}

/** The items on `threads` bare worker threads, each handed its next item as it returns one; seconds. */
async function bareThreads(items: number[], threads: number): Promise<number> {
  const source = `const { parentPort } = require("node:worker_threads"); const burn = ${burn.toString()}; parentPort.on("message", (x) => parentPort.postMessage(burn(x)));`;
  const workers = Array.from({ length: threads }, () => new Worker(source, { eval: true }));
  const call = (worker: Worker, x: number) =>
    new Promise<number>((resolve) => {
      worker.once("message", resolve);
      worker.postMessage(x);
    });
  try {
    await Promise.all(workers.map((w, i) => call(w, i)));
    let next = 0;
    const t = performance.now();
    await Promise.all(
      workers.map(async (w) => {
        while (next < items.length) await call(w, items[next++]);
      }),
    );
    return (performance.now() - t) / 1000;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export const cpuScaling: BenchCase = {
  name: "cpu-scaling",
  workload:
    "64 items of a fixed floating-point loop (~20 ms each): sequential in the bench process vs pool.map(burn, items) on a local cluster with one node of 2 threads (default options), then the same with chunksize 1",
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
      const out = await pool.map(burn, items);
      const parallel = (performance.now() - t) / 1000;
      t = performance.now();
      const outOnes = await pool.map(burn, items, { chunksize: 1 });
      const parallelOnes = (performance.now() - t) / 1000;
      for (const results of [out, outOnes]) {
        if (results.some((v, i) => v !== expected[i]))
          throw new Error("cpu-scaling: the pool's results differ from the sequential ones");
      }
      const bare = await bareThreads(items, 2);
      return {
        rows: [
          {
            contender: "sequential",
            setting: "1 thread",
            seconds: round(sequential, 3),
            "ms per item": round((sequential * 1000) / items.length, 2),
          },
          {
            contender: "glimpse-cluster",
            setting: "1 node × 2 threads, prefetch 1, default chunksize (auto: 8 chunks of 8)",
            seconds: round(parallel, 3),
            "ms per item": round((parallel * 1000) / items.length, 2),
          },
          {
            contender: "glimpse-cluster",
            setting: "the same, chunksize 1 (64 chunks)",
            seconds: round(parallelOnes, 3),
            "ms per item": round((parallelOnes * 1000) / items.length, 2),
          },
          {
            contender: "bare worker_threads",
            setting: "2 threads, one item at a time",
            seconds: round(bare, 3),
            "ms per item": round((bare * 1000) / items.length, 2),
          },
        ],
        ratios: [
          ratio("speedup", sequential / parallel, { text: "≥ 1.9 (limit 2.0)", met: (v) => v >= 1.9 }),
          ratio("speedup at chunksize 1", sequential / parallelOnes),
          ratio("bare threads' speedup (this machine's ceiling)", sequential / bare),
          ratio("glimpse / bare threads (items/s), chunksize 1", bare / parallelOnes),
        ],
        notes: [
          "The client process is idle while the pool runs, so both threads get a core.",
          "Bare threads: two worker_threads in the bench process, each sent its next item by postMessage as it returns one; no job server, no serialization.",
        ],
      };
    } finally {
      await pool.close();
    }
  },
};
