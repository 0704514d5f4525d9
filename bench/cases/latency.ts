/**
 * The round trip of a one-item map, p50 and p99 over 1,000 maps, on a local
 * cluster, beside the same path without our pool's code (GearmanClient →
 * embedded server → a bare GearmanWorker process → a piscina thread and back:
 * the floor of any Gearman pool on this machine) and Dask's
 * client.submit(...).result(). Measured after warm-up: a pool is long-lived,
 * and its first few hundred maps run before the JIT has compiled the path.
 */
import { fork } from "node:child_process";
import { JobServer } from "../../lib/server/index.js";
import { GearmanClient } from "../../lib/gearman/index.js";
import { localPool } from "../local-pool.js";
import { percentile } from "../measure.js";
import { ratio, round, skippedRow, type BenchCase, type Row } from "../bench-case.js";
import { DASK_SETTING, daskRoundTrips, daskVersion } from "../python-peers.js";

const MAPS = 1000;
const WARMUP = 500;

async function timed(count: number, once: (i: number) => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await once(i);
  const ms: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await once(i);
    ms.push(performance.now() - t);
  }
  return ms;
}

/** Round trips of 8-byte jobs through the bare path, in ms. */
async function bareRoundTrips(count: number): Promise<number[]> {
  const server = new JobServer({ host: "127.0.0.1", port: 0 });
  const { host, port } = await server.listen();
  const node = fork(new URL("../bare-gearman-node.js", import.meta.url), [`${host}:${port}`], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const client = new GearmanClient({ servers: `${host}:${port}`, open: () => server.connectInProcess() });
  try {
    await new Promise<void>((resolve, reject) => {
      node.once("message", () => resolve());
      node.once("exit", (code) => reject(new Error(`latency: the bare worker node exited (${code}) before it was ready`)));
    });
    const payload = Buffer.alloc(8, 1);
    return await timed(count, () => client.submitJob("bare_echo", payload).result);
  } finally {
    node.disconnect();
    await client.close();
    await server.close();
  }
}

export const latency: BenchCase = {
  name: "latency",
  workload: `${MAPS} sequential one-item maps of x => x + 1 on a local cluster (embedded job server, one node of 2 threads) after ${WARMUP} warm-up maps; the same count of 8-byte jobs through the bare path (GearmanClient → embedded server in this process → a GearmanWorker process whose handler goes through a piscina thread); then ${MAPS} Dask client.submit(inc, i).result() round trips on ${DASK_SETTING}`,
  budgetSeconds: 90,
  async run() {
    const pool = await localPool(2);
    let ms: number[];
    try {
      ms = await timed(MAPS, (i) => pool.map((x: number) => x + 1, [i]));
    } finally {
      await pool.close();
    }
    const bare = await bareRoundTrips(MAPS);
    const p50 = percentile(ms, 50);
    const bareP50 = percentile(bare, 50);
    const rows: Row[] = [
      { contender: "glimpse-cluster", setting: "one-item map", "p50 ms": round(p50, 3), "p99 ms": round(percentile(ms, 99), 3) },
      { contender: "bare Gearman path", setting: "8-byte job, worker process + piscina thread", "p50 ms": round(bareP50, 3), "p99 ms": round(percentile(bare, 99), 3) },
    ];
    const ratios = [ratio("p50 ms", p50, { text: "≤ 1 ms", met: (v) => v <= 1 }), ratio("glimpse p50 / bare path p50", p50 / bareP50)];
    const version = daskVersion();
    const dask = version ? daskRoundTrips(MAPS) : "python3-distributed is not installed (bench/setup-peers.sh installs it)";
    if (typeof dask !== "string") {
      const daskP50 = percentile(dask, 50);
      rows.push({ contender: `Dask ${version}`, setting: "client.submit(...).result()", "p50 ms": round(daskP50, 3), "p99 ms": round(percentile(dask, 99), 3) });
      ratios.push(ratio("glimpse p50 / Dask p50", p50 / daskP50));
    } else rows.push(skippedRow("Dask", dask));
    return {
      rows,
      ratios,
      notes: [
        "The bare path is what any Gearman pool with worker processes and threads pays on this machine: four packets between two processes (NOOP, GRAB_JOB, JOB_ASSIGN, WORK_COMPLETE) and a thread hop each way. The difference to it is the pool's own work: wire format, signing both ways, memory versions, chunk bookkeeping.",
      ],
    };
  },
};
