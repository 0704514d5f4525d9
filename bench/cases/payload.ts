/**
 * Payload throughput: items of 1 MB (Uint8Array), one per chunk, through a local cluster pool, beside
 * the same bytes through piscina alone (2 threads in this process: no job server, no second process).
 * Both local clusters run: unsigned on Unix sockets (MakePool()'s default), whose megabyte chunks and
 * results go through payload files in tmpfs (only a reference crosses the job server), and signed on
 * loopback TCP, whose bytes cross the job server twice each way (client → server → node, and back).
 * Contenders alternate over rounds, each warmed up by one map first.
 */
import { Piscina } from "piscina";
import { localPool } from "../local-pool.js";
import { median } from "../measure.js";
import { ratio, round, type BenchCase } from "../bench-case.js";

const ITEMS = 100;
const SIZE = 1024 * 1024;
const ROUNDS = 5;

export const payload: BenchCase = {
  name: "payload",
  workload: `${ITEMS} items of 1 MB Uint8Array, each returned with its first byte changed, chunksize 1, 2 threads: local cluster unsigned (Unix sockets, payload files) and signed (loopback TCP) vs piscina alone with the same items; ${ROUNDS} alternating rounds after one warm-up each, medians`,
  budgetSeconds: 120,
  async run() {
    const items = Array.from({ length: ITEMS }, (_, i) => new Uint8Array(SIZE).fill(i % 256));
    const mb = (ITEMS * SIZE * 2) / 1e6; // there and back
    const unsigned = await localPool(2);
    const signed = await localPool(2, { signed: true });
    const piscina = new Piscina({
      filename: new URL("../payload-task.js", import.meta.url).href,
      minThreads: 2,
      maxThreads: 2,
    });
    const throughPool = (pool: typeof unsigned) => async () => {
      const out = await pool.map((a: Uint8Array) => ((a[0] = 255), a), items, { chunksize: 1 });
      if (out.length !== ITEMS || out[5][0] !== 255 || out[5][1] !== 5)
        throw new Error("payload: wrong result from the pool");
    };
    const contenders = [
      {
        name: "glimpse-cluster local cluster",
        setting: "1 node × 2 threads, Unix sockets, unsigned, payload files",
        run: throughPool(unsigned),
        mbs: [] as number[],
      },
      {
        name: "glimpse-cluster signed",
        setting: "1 node × 2 threads, loopback TCP, signed",
        run: throughPool(signed),
        mbs: [] as number[],
      },
      {
        name: "piscina alone",
        setting: "2 threads",
        run: () => Promise.all(items.map((item) => piscina.run([item]))),
        mbs: [] as number[],
      },
    ];
    try {
      for (const c of contenders) await c.run();
      for (let r = 0; r < ROUNDS; r++) {
        for (const c of contenders) {
          const t = performance.now();
          await c.run();
          c.mbs.push(mb / ((performance.now() - t) / 1000));
        }
      }
    } finally {
      await Promise.allSettled([unsigned.close(), signed.close(), piscina.destroy()]);
    }
    const [ours, withSigning, alone] = contenders.map((c) => median(c.mbs));
    return {
      rows: contenders.map((c) => ({
        contender: c.name,
        setting: c.setting,
        "MB/s (both ways)": round(median(c.mbs)),
        "MB/s per round": c.mbs.map((v) => round(v)).join(", "),
      })),
      ratios: [
        ratio("glimpse/piscina alone MB/s", ours / alone, { text: "≥ 0.35", met: (v) => v >= 0.35 }),
        ratio("signed/piscina alone MB/s", withSigning / alone),
      ],
      notes: [
        "Through the unsigned local cluster every megabyte is serialized, written to a tmpfs file and read back whole on the other side, each way (a reference crosses the job server); through the signed one it crosses the job server twice each way and is copied into and out of the worker thread; piscina alone only copies into and out of its threads.",
        "The signed cluster adds an HMAC-SHA256 over every chunk and every result, computed on one side and checked on the other.",
      ],
    };
  },
};
