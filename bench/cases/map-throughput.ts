/**
 * map throughput on a trivial function: our local cluster (one worker node
 * with 2 threads) against piscina alone with the same chunking, and Python's
 * multiprocessing.Pool(2).map when a Python 3 is installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Piscina } from "piscina";
import { autoChunksize } from "../../lib/pool/chunks.js";
import { localPool } from "../local-pool.js";
import { median } from "../measure.js";
import { ratio, skippedRow, type BenchCase, type Row } from "../bench-case.js";

const ITEMS = Number(process.env.BENCH_MAP_ITEMS ?? 1_000_000);
const ROUNDS = 3;
const PYTHON = ["/usr/bin/python3", "python3"].find((p) => p.startsWith("/") ? existsSync(p) : spawnSync(p, ["-c", "1"]).status === 0);

function pythonMultiprocessing(): number | string {
  if (!PYTHON) return "no python3 installed";
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-bench-"));
  const script = path.join(dir, "mp.py");
  writeFileSync(
    script,
    [
      "import multiprocessing, time",
      "def f(x):",
      "    return x + 1",
      "if __name__ == '__main__':",
      `    items = list(range(${ITEMS}))`,
      "    with multiprocessing.Pool(2) as pool:",
      "        t = time.perf_counter()",
      "        out = pool.map(f, items)",
      "        dt = time.perf_counter() - t",
      `    assert out[-1] == ${ITEMS}`,
      "    print(dt)",
    ].join("\n"),
  );
  try {
    const result = spawnSync(PYTHON, [script], { encoding: "utf8", timeout: 120_000 });
    if (result.status !== 0) return `python failed: ${result.stderr.trim().split("\n").pop()}`;
    return ITEMS / Number(result.stdout.trim());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const mapThroughput: BenchCase = {
  name: "map-throughput",
  workload: `x => x + 1 over ${ITEMS} numbers, 2 worker threads, chunksize auto (${autoChunksize(ITEMS, 2)} items); glimpse local cluster (embedded job server, 1 node) vs piscina alone (same chunks) vs Python multiprocessing.Pool(2).map (default chunksize); ${ROUNDS} rounds, medians`,
  budgetSeconds: 150,
  async run() {
    const items = Array.from({ length: ITEMS }, (_, i) => i);
    const chunksize = autoChunksize(ITEMS, 2);
    const ours: number[] = [];
    const alone: number[] = [];
    const pool = await localPool(2);
    const piscina = new Piscina({ filename: new URL("../piscina-task.js", import.meta.url).href, minThreads: 2, maxThreads: 2 });
    try {
      await pool.map((x: number) => x + 1, items.slice(0, 1000)); // warm up: threads started, function compiled
      for (let r = 0; r < ROUNDS; r++) {
        let t = performance.now();
        const out = await pool.map((x: number) => x + 1, items, { chunksize });
        ours.push(ITEMS / ((performance.now() - t) / 1000));
        if (out[ITEMS - 1] !== ITEMS) throw new Error("map-throughput: wrong result from the pool");
        t = performance.now();
        const chunks: Promise<number[]>[] = [];
        for (let i = 0; i < ITEMS; i += chunksize) chunks.push(piscina.run({ items: items.slice(i, i + chunksize) }));
        const flat = (await Promise.all(chunks)).flat();
        alone.push(ITEMS / ((performance.now() - t) / 1000));
        if (flat[ITEMS - 1] !== ITEMS) throw new Error("map-throughput: wrong result from piscina");
      }
    } finally {
      await pool.close();
      await piscina.destroy();
    }
    const python = pythonMultiprocessing();
    const rows: Row[] = [
      { contender: "glimpse-cluster local cluster", setting: "1 node × 2 threads", "items/s": Math.round(median(ours)) },
      { contender: "piscina alone", setting: "2 threads", "items/s": Math.round(median(alone)) },
      skippedRow("Dask", "no Dask contender in this case yet (bench/setup-peers.sh installs python3-distributed)"),
    ];
    const notes: string[] = [];
    const ratios = [ratio("glimpse/piscina alone", median(ours) / median(alone), { text: "≥ 0.7", met: (v) => v >= 0.7 })];
    if (typeof python === "number") {
      rows.push({ contender: "Python multiprocessing", setting: "Pool(2).map", "items/s": Math.round(python) });
      ratios.push(ratio("glimpse/multiprocessing", median(ours) / python, { text: "≥ 1.0", met: (v) => v >= 1 }));
    } else rows.push(skippedRow("Python multiprocessing", python));
    return { rows, ratios, notes };
  },
};
