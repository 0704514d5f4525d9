/**
 * The round trip of a one-item map, p50 and p99, on the local cluster as MakePool() makes it (Unix
 * sockets, unsigned), beside: a raw-socket Gearman echo through the embedded job server (its own
 * process, a raw worker in another, the raw client in this one: the goal's yardstick, what a Gearman
 * round trip costs here with no library at all); the same path as a map without our pool's code (GearmanClient →
 * embedded server on a Unix socket → a bare GearmanWorker process → a piscina thread and back); and
 * the signed local cluster on loopback TCP (what signing and TCP add); then Dask's
 * client.submit(...).result(). The four run side by side: all are opened first, warmed up (a pool is
 * long-lived, and its first few hundred maps run before the JIT has compiled the path), then measured
 * in blocks of 100 round trips, rotating, so a noisy moment hits them alike.
 */
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { JobServer } from "../../lib/server/index.js";
import { GearmanClient } from "../../lib/gearman/index.js";
import { localPool } from "../local-pool.js";
import { percentile } from "../measure.js";
import { LatencyHistogram } from "../histogram.js";
import { embedded } from "../job-servers.js";
import { rawLoad } from "../raw-gearman.js";
import { rawWorkersProcess } from "../raw-workers.js";
import { ratio, round, skippedRow, type BenchCase, type Row } from "../bench-case.js";
import { DASK_SETTING, daskRoundTrips, daskVersion } from "../python-peers.js";

const MAPS = 1000;
const WARMUP = 500;
const BLOCK = 100;

interface Contender {
  readonly name: string;
  readonly setting: string;
  /** Runs `count` round trips one after another, recording each into `into`. */
  readonly block: (first: number, count: number, into: LatencyHistogram) => Promise<void>;
  readonly ms: LatencyHistogram;
}

/** A block of round trips of a call that makes one. */
const oneByOne =
  (once: (i: number) => Promise<unknown>) => async (first: number, count: number, into: LatencyHistogram) => {
    for (let i = first; i < first + count; i++) {
      const t = performance.now();
      await once(i);
      into.record(performance.now() - t);
    }
  };

/**
 * The goal's yardstick: raw-socket echo jobs, one in flight, through the embedded job server in its own
 * process to a raw worker in another (as a pool's node is), the client in this one.
 */
async function openRawEcho(signal: AbortSignal) {
  const server = await embedded().start();
  try {
    const worker = await rawWorkersProcess(server.port, "raw_echo", 1);
    return {
      block: async (_first: number, count: number, into: LatencyHistogram) => {
        into.merge((await rawLoad({ port: server.port, func: "raw_echo", inFlight: 1, jobs: count, signal })).latency);
      },
      close: async () => {
        await worker.stop();
        await server.stop();
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** The bare path: a job server on a Unix socket, a bare worker node process on it, our client in memory. */
async function openBarePath(): Promise<{ once: (i: number) => Promise<unknown>; close: () => Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-bench-"));
  const server = new JobServer({ path: path.join(dir, "jobs.sock") });
  await server.listen();
  const address = `unix:${path.join(dir, "jobs.sock")}`;
  const node = fork(new URL("../bare-gearman-node.js", import.meta.url), [address], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const client = new GearmanClient({ servers: address, open: () => server.connectInProcess() });
  const close = async () => {
    if (node.connected) node.disconnect();
    await client.close();
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      node.once("message", () => resolve());
      node.once("exit", (code) =>
        reject(new Error(`latency: the bare worker node exited (${code}) before it was ready`)),
      );
    });
  } catch (error) {
    await close();
    throw error;
  }
  const payload = Buffer.alloc(8, 1);
  return { once: () => client.submitJob("bare_echo", payload).result, close };
}

export const latency: BenchCase = {
  name: "latency",
  workload: `${MAPS} sequential one-item maps of x => x + 1 on a local cluster (one node of 2 threads), unsigned on Unix sockets (MakePool()'s default) and signed on loopback TCP; as many 8-byte raw-socket echo jobs through the embedded job server (its own process; a raw worker in a child process, the raw client in the bench process, loopback TCP); as many 8-byte jobs through the bare path (GearmanClient → embedded server on a Unix socket → a GearmanWorker process whose handler goes through a piscina thread); ${WARMUP} warm-up round trips each, then blocks of ${BLOCK} rotating; then ${MAPS} Dask client.submit(inc, i).result() round trips on ${DASK_SETTING}`,
  budgetSeconds: 150,
  async run({ signal }) {
    const unsigned = await localPool(2);
    const signed = await localPool(2, { signed: true });
    const bare = await openBarePath();
    const raw = await openRawEcho(signal);
    const map = (pool: typeof unsigned) => oneByOne((i: number) => pool.map((x: number) => x + 1, [i]));
    const contenders: Contender[] = [
      {
        name: "glimpse-cluster",
        setting: "one-item map, local cluster (Unix sockets, unsigned)",
        block: map(unsigned),
        ms: new LatencyHistogram(),
      },
      {
        name: "raw-socket Gearman echo",
        setting: "8-byte job, raw client; embedded job server and raw worker in processes of their own",
        block: raw.block,
        ms: new LatencyHistogram(),
      },
      {
        name: "bare Gearman path",
        setting: "8-byte job, worker process + piscina thread, Unix socket",
        block: oneByOne(bare.once),
        ms: new LatencyHistogram(),
      },
      {
        name: "glimpse-cluster signed",
        setting: "one-item map, local cluster with secret: true (loopback TCP, signed)",
        block: map(signed),
        ms: new LatencyHistogram(),
      },
    ];
    try {
      for (const c of contenders) await c.block(0, WARMUP, new LatencyHistogram());
      for (let done = 0; done < MAPS; done += BLOCK) for (const c of contenders) await c.block(done, BLOCK, c.ms);
    } finally {
      await Promise.allSettled([unsigned.close(), signed.close(), bare.close(), raw.close()]);
    }
    const [ours, rawEcho, floor, withSigning] = contenders.map((c) => c.ms.percentile(50));
    const rows: Row[] = contenders.map((c) => ({
      contender: c.name,
      setting: c.setting,
      "p50 ms": round(c.ms.percentile(50), 3),
      "p99 ms": round(c.ms.percentile(99), 3),
    }));
    const ratios = [
      ratio("p50 ms", ours, { text: "≤ 1 ms", met: (v) => v <= 1 }),
      ratio("glimpse p50 / raw-socket echo p50", ours / rawEcho, { text: "≤ 4", met: (v) => v <= 4 }),
      ratio("glimpse p50 / bare path p50", ours / floor),
      ratio("signed p50 / unsigned p50", withSigning / ours),
    ];
    const version = daskVersion();
    const dask = version
      ? daskRoundTrips(MAPS)
      : "python3-distributed is not installed (bench/setup-peers.sh installs it)";
    if (typeof dask !== "string") {
      const daskP50 = percentile(dask, 50);
      rows.push({
        contender: `Dask ${version}`,
        setting: "client.submit(...).result()",
        "p50 ms": round(daskP50, 3),
        "p99 ms": round(percentile(dask, 99), 3),
      });
      ratios.push(ratio("glimpse p50 / Dask p50", ours / daskP50));
    } else rows.push(skippedRow("Dask", dask));
    return {
      rows,
      ratios,
      notes: [
        "The bare path is what any Gearman pool with worker processes and threads pays on this machine: four packets between two processes (NOOP, GRAB_JOB, JOB_ASSIGN, WORK_COMPLETE) and a thread hop each way. The difference to it is the pool's own work: wire format, memory versions, chunk bookkeeping, the map's promise plumbing.",
        "The signed row adds what a cluster over machines pays: loopback TCP instead of Unix sockets, and an HMAC over every chunk and result, checked on the other side.",
      ],
    };
  },
};
