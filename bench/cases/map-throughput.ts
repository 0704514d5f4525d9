/**
 * map throughput on a trivial function: our local cluster (one worker node
 * with 2 threads) against piscina alone with the same chunking, and Python's
 * multiprocessing.Pool(2).map and Dask's client.map when Python 3 (and
 * python3-distributed) are installed. Ours, piscina and multiprocessing
 * alternate round by round; Dask runs its rounds in one cluster afterwards
 * (its start-up is not timed). Each contender first runs one whole map
 * untimed, as a long-lived pool has: threads started and hot paths compiled.
 */
import { Piscina } from "piscina";
import { autoChunksize } from "../../lib/pool/chunks.js";
import { estimateItemBytes } from "../../lib/wire/item-bytes.js";
import { localPool } from "../local-pool.js";
import { median, medianOfRatios } from "../measure.js";
import { ratio, skippedRow, type BenchCase, type Row } from "../bench-case.js";
import { DASK_SETTING, daskMap, daskVersion, multiprocessingMap } from "../python-peers.js";

const ITEMS = Number(process.env.BENCH_MAP_ITEMS ?? 1_000_000);
const perRound = (values: number[]) => values.map((v) => `${(v / 1e6).toFixed(2)}M`).join(", ");
const ROUNDS = 9;
/** What `chunksize: "auto"` picks for these items on 2 threads; every contender gets these chunks. */
const CHUNKSIZE = autoChunksize(ITEMS, 2, estimateItemBytes([0, ITEMS - 1]));

export const mapThroughput: BenchCase = {
  name: "map-throughput",
  workload: `x => x + 1 over ${ITEMS} numbers, 2 worker threads, chunksize auto (${CHUNKSIZE} items); glimpse local cluster (embedded job server, 1 node) vs piscina alone (same chunks) vs Python multiprocessing.Pool(2).map (default chunksize) vs Dask ${DASK_SETTING} client.map over the same chunks; one untimed whole map each first (multiprocessing: two maps per fresh pool, both timed, the second is the warm figure), then ${ROUNDS} rounds, medians`,
  budgetSeconds: 150,
  async run() {
    const items = Array.from({ length: ITEMS }, (_, i) => i);
    const chunksize = CHUNKSIZE;
    const ours: number[] = [];
    const alone: number[] = [];
    const multiprocessing: number[] = [];
    const multiprocessingFirst: number[] = [];
    let multiprocessingSkip: string | undefined;
    const pool = await localPool(2);
    const piscina = new Piscina({
      filename: new URL("../piscina-task.js", import.meta.url).href,
      minThreads: 2,
      maxThreads: 2,
    });
    try {
      // Warm-up, as a long-lived pool is: one whole map each (threads started, the hot paths compiled); multiprocessing warms its pool the same way.
      await pool.map((x: number) => x + 1, items, { chunksize });
      await Promise.all(
        Array.from({ length: Math.ceil(ITEMS / chunksize) }, (_, c) =>
          piscina.run({ items: items.slice(c * chunksize, (c + 1) * chunksize) }),
        ),
      );
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
        const python = multiprocessingMap(ITEMS);
        if (typeof python === "string") multiprocessingSkip = python;
        else {
          multiprocessing.push(python.warm);
          multiprocessingFirst.push(python.first);
        }
      }
    } finally {
      await pool.close();
      await piscina.destroy();
    }
    const version = daskVersion();
    const dask = version
      ? daskMap(ITEMS, chunksize, ROUNDS)
      : "python3-distributed is not installed (bench/setup-peers.sh installs it)";
    const rows: Row[] = [
      {
        contender: "glimpse-cluster local cluster",
        setting: "1 node × 2 threads",
        "items/s": Math.round(median(ours)),
        "items/s per round": perRound(ours),
      },
      {
        contender: "piscina alone",
        setting: "2 threads",
        "items/s": Math.round(median(alone)),
        "items/s per round": perRound(alone),
      },
    ];
    const notes: string[] = [];
    const ratios = [
      ratio("glimpse/piscina alone", median(ours) / median(alone), { text: "≥ 0.7", met: (v) => v >= 0.7 }),
    ];
    if (multiprocessing.length > 0) {
      rows.push({
        contender: "Python multiprocessing",
        setting: "Pool(2).map, second map of the pool",
        "items/s": Math.round(median(multiprocessing)),
        "items/s per round": perRound(multiprocessing),
      });
      rows.push({
        contender: "Python multiprocessing",
        setting: "Pool(2).map, first map of a fresh pool",
        "items/s": Math.round(median(multiprocessingFirst)),
      });
      ratios.push(
        ratio("glimpse/multiprocessing (warm pools)", median(ours) / median(multiprocessing), {
          text: "≥ 1.5",
          met: (v) => v >= 1.5,
        }),
      );
      ratios.push(
        ratio(
          "glimpse/multiprocessing (warm pools), median of the rounds' own ratios",
          medianOfRatios(ours, multiprocessing),
        ),
      );
      ratios.push(
        ratio(
          "glimpse/multiprocessing's first map (until 2026-12-03 the goal's figure)",
          median(ours) / median(multiprocessingFirst),
        ),
      );
    } else rows.push(skippedRow("Python multiprocessing", multiprocessingSkip ?? "not run"));
    if (typeof dask !== "string") {
      rows.push({
        contender: `Dask ${version}`,
        setting: `client.map over chunks of ${chunksize}, 2 worker processes × 1 thread`,
        "items/s": Math.round(median(dask)),
      });
      ratios.push(ratio("glimpse/Dask", median(ours) / median(dask), { text: "≥ 20", met: (v) => v >= 20 }));
    } else rows.push(skippedRow("Dask", dask));
    return { rows, ratios, notes };
  },
};
