/**
 * `glimpse-cluster demo`: the whole product on one machine. Starts a local
 * cluster (the one MakePool() starts without a configuration: an embedded job
 * server and worker node processes reached through Unix sockets in a private
 * directory), runs the original's hex example, a Monte Carlo
 * estimate of pi over a million samples with a progress bar and a trivial
 * map over 100,000 items, prints results and items per second, and shuts
 * everything down. Ctrl-C (or SIGTERM): one line on stderr, everything shut
 * down (the local cluster's directory removed), exit 130 (143); a second
 * one exits at once.
 */
import os from "node:os";
import type { Command } from "commander";
import type { ClusterPool } from "../../lib/pool/cluster-pool.js";
import { ProgressBar } from "../progress-bar.js";
import { wholeNumber } from "../arguments.js";
import { UsageError, interrupted, signalExitCode, wrongDemoResult } from "../errors.js";
import { namingFlags } from "../option-flags.js";

function hex(x: number): string {
  return "0x" + x.toString(16);
}

/** Points of a seeded xorshift32 sequence inside the unit circle, out of 10,000. */
function insideCircle(seed: number): number {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296;
  };
  let inside = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = next();
    const y = next();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}

async function runDemo(pool: ClusterPool, samples: number, signal: AbortSignal): Promise<void> {
  const say = (line: string) => process.stdout.write(`${line}\n`);
  say(`hex over [1, 2, 3]: ${JSON.stringify(await pool.map(hex, [1, 2, 3], { signal }))}`);

  const nodes = await pool.ping(2000);
  say(
    `worker nodes: ${nodes.map((n) => `${n.host}:${n.pid} (${n.threads} thread${n.threads === 1 ? "" : "s"})`).join(", ")}`,
  );

  const seeds = Array.from({ length: Math.ceil(samples / 10_000) }, (_, i) => i + 1);
  const bar = new ProgressBar("pi");
  const started = performance.now();
  const counts = await pool.map(insideCircle, seeds, {
    signal,
    onProgress: ({ done, total }) => bar.update(done, total),
  });
  const seconds = (performance.now() - started) / 1000;
  const inside = counts.reduce((a, b) => a + b, 0);
  say(
    `pi ≈ ${((4 * inside) / (seeds.length * 10_000)).toFixed(5)} from ${seeds.length * 10_000} samples in ${seeds.length} items: ${seconds.toFixed(2)} s, ${Math.round(seeds.length / seconds)} items/s`,
  );

  const trivial = Array.from({ length: 100_000 }, (_, i) => i);
  const t0 = performance.now();
  const plusOne = await pool.map((x: number) => x + 1, trivial, { signal, chunksize: 2_000 });
  const t = (performance.now() - t0) / 1000;
  if (plusOne[99_999] !== 100_000) throw wrongDemoResult("x => x + 1 on item 99999", plusOne[99_999], 100_000);
  say(`x => x + 1 over ${trivial.length} items: ${t.toFixed(2)} s, ${Math.round(trivial.length / t)} items/s`);
}

interface DemoOptions {
  workers: number;
  samples: number;
  oversubscribe?: boolean;
}

/**
 * Worker nodes the demo starts per core at most, unless --oversubscribe (mpirun's word for it):
 * each is a process with at least one thread of its own, so past the cores they only contend, and
 * a typo such as 100000 would start processes until the machine gave out.
 */
export const WORKERS_PER_CORE = 4;

/** Refuses more worker nodes than WORKERS_PER_CORE per core, naming the flag, unless --oversubscribe. */
export function refuseTooManyWorkers(options: Pick<DemoOptions, "workers" | "oversubscribe">): void {
  const cores = os.availableParallelism();
  const most = WORKERS_PER_CORE * cores;
  if (options.workers <= most || options.oversubscribe) return;
  throw new UsageError(
    `--workers: ${options.workers} worker nodes would be ${options.workers} processes on this machine's ` +
      `${cores} core${cores === 1 ? "" : "s"}; at most ${most} (${WORKERS_PER_CORE} per core) start without ` +
      `--oversubscribe, as past the cores they only contend`,
  );
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "start a local cluster (an embedded job server and worker nodes) on this machine, run a few maps, and shut it all down",
    )
    .option("--workers <n>", `worker nodes (at most ${WORKERS_PER_CORE} per core)`, wholeNumber("--workers", 1), 2)
    .option("--samples <n>", "Monte Carlo samples for pi (at least 10000)", wholeNumber("--samples", 10_000), 1_000_000)
    .option("--oversubscribe", `start more than ${WORKERS_PER_CORE} worker nodes per core`)
    .action(
      namingFlags({ LocalCluster: { workers: "--workers" } }, async (options: DemoOptions) => {
        refuseTooManyWorkers(options);
        const stop = new AbortController();
        let signalled: NodeJS.Signals | undefined;
        // While this listener is there, the local cluster's own (directory-guard.ts) leaves the signal to it.
        const onSignal = (signal: NodeJS.Signals) => {
          if (signalled) process.exit(signalExitCode(signal)); // again: now (the directory goes at exit)
          signalled = signal;
          // One line, on a line of its own even if the progress bar was drawing.
          process.stderr.write(`${process.stderr.isTTY ? "\n" : ""}glimpse-cluster demo: ${signal}: shutting down\n`);
          stop.abort();
        };
        process.on("SIGINT", onSignal);
        process.on("SIGTERM", onSignal);
        let pool: ClusterPool | undefined;
        try {
          const [{ LocalCluster }, { poolOnLocalCluster }] = await Promise.all([
            import("../../lib/pool/local-cluster.js"),
            import("../../lib/make-pool.js"),
          ]);
          const cluster = await LocalCluster.start({ workers: options.workers });
          process.stdout.write(`embedded job server on ${cluster.jobServer}\n`);
          pool = await poolOnLocalCluster(cluster);
          const threads = cluster.threadsPerWorker;
          process.stdout.write(
            `${cluster.workerCount} worker node${cluster.workerCount === 1 ? "" : "s"} with ${threads} thread${threads === 1 ? "" : "s"} each\n`,
          );
          await runDemo(pool, options.samples, stop.signal);
        } catch (error) {
          // A map stopped by the signal rejects with its AbortError: the line above said why.
          if (signalled) throw interrupted(signalled);
          throw error;
        } finally {
          await pool?.close().catch(() => {});
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        }
        if (signalled) throw interrupted(signalled);
        process.stdout.write("done: everything shut down\n");
      }),
    );
}
