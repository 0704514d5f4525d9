/**
 * The embedded job server against gearmand (default threads, and -t 1),
 * through the same raw-socket load generator and raw echo workers (the
 * workers in a child process of their own, the load generator in this one).
 *
 *   for each round (every server, order rotates):  then, per server once:
 *     start server → 2 raw workers (child)        start server → 1M SUBMIT_JOB_BG,
 *     → 1 / 16 / 100 in flight (CPU read around)  no worker → read VmRSS → kill
 *     → read VmHWM → stop server
 */
import { embedded, gearmand, type ServerContender } from "../job-servers.js";
import { LatencyHistogram } from "../histogram.js";
import { cpuSeconds, memory } from "../proc-stats.js";
import { rawBackground, rawLoad } from "../raw-gearman.js";
import { rawWorkersProcess } from "../raw-workers.js";
import { median, medianOfRatios } from "../measure.js";
import { ratio, round, skippedRow, type BenchCase, type CaseContext, type Ratio, type Row } from "../bench-case.js";

const FUNC = "echo";
const ROUNDS = 7;
const WARMUP_JOBS = 2000;
const SETTINGS = [
  { inFlight: 1, jobs: 3000 },
  { inFlight: 16, jobs: 20_000 },
  { inFlight: 100, jobs: 30_000 },
] as const;
/** Background jobs queued for the memory figure; BENCH_BG_JOBS overrides (e.g. for a quick look). */
const BACKGROUND_JOBS = Number(process.env.BENCH_BG_JOBS ?? 1_000_000);

const CONTENDERS: readonly ServerContender[] = [gearmand(), gearmand(1), embedded()];
/** The memory figure is taken for these only: gearmand's thread count does not change what a queued job costs. */
const MEMORY_CONTENDERS = new Set(["gearmand", "embedded"]);

interface Figures {
  jps: number[];
  latency: LatencyHistogram;
  /** Server CPU microseconds per job, one per round. */
  cpuPerJob: number[];
  /** CPU microseconds per job of this process (the load generator), one per round. */
  loadCpuPerJob: number[];
  /** CPU microseconds per job of the workers' process, one per round. */
  workerCpuPerJob: number[];
}

/** One round on a fresh server: every setting in turn; returns the server's peak RSS in MB. */
async function measureRound(
  contender: ServerContender,
  figures: Map<string, Figures>,
  { signal }: CaseContext,
): Promise<number> {
  const server = await contender.start();
  try {
    const workers = await rawWorkersProcess(server.port, FUNC, 2);
    try {
      await rawLoad({ port: server.port, func: FUNC, inFlight: 16, jobs: WARMUP_JOBS, signal });
      for (const { inFlight, jobs } of SETTINGS) {
        const key = `${contender.name}@${inFlight}`;
        const f = figures.get(key) ?? {
          jps: [],
          latency: new LatencyHistogram(),
          cpuPerJob: [],
          loadCpuPerJob: [],
          workerCpuPerJob: [],
        };
        figures.set(key, f);
        const cpuBefore = cpuSeconds(server.pid);
        const workerCpuBefore = cpuSeconds(workers.pid);
        const loadCpuBefore = process.cpuUsage();
        const result = await rawLoad({ port: server.port, func: FUNC, inFlight, jobs, signal });
        f.cpuPerJob.push(((cpuSeconds(server.pid) - cpuBefore) / jobs) * 1e6);
        f.workerCpuPerJob.push(((cpuSeconds(workers.pid) - workerCpuBefore) / jobs) * 1e6);
        const loadCpu = process.cpuUsage(loadCpuBefore);
        f.loadCpuPerJob.push((loadCpu.user + loadCpu.system) / jobs);
        f.jps.push(result.jobsPerSecond);
        f.latency.merge(result.latency);
      }
    } finally {
      await workers.stop();
    }
    return memory(server.pid).peakMb;
  } finally {
    await server.stop();
  }
}

async function queuedMemory(
  contender: ServerContender,
  { signal }: CaseContext,
): Promise<{ rssMb: number; seconds: number }> {
  const server = await contender.start();
  try {
    const seconds = await rawBackground({ port: server.port, func: "queued_only", jobs: BACKGROUND_JOBS, signal });
    return { rssMb: memory(server.pid).rssMb, seconds };
  } finally {
    await server.stop();
  }
}

export const jobServer: BenchCase = {
  name: "job-server",
  workload: `8-byte echo jobs from one raw client connection to 2 raw echo workers (one job at a time each, both in one child process), ${SETTINGS.map((s) => s.inFlight).join(" / ")} jobs in flight (${SETTINGS.map((s) => s.jobs).join(" / ")} jobs, after ${WARMUP_JOBS} warm-up jobs); a fresh server per round, ${ROUNDS} rounds, each running every server in a rotating order; jobs/s and CPU are the median round, p50/p99 over all rounds; beside each jobs/s ratio of medians, the median of the rounds' own ratios; then ${BACKGROUND_JOBS} SUBMIT_JOB_BG with no worker (window 2000) and the server's VmRSS`,
  budgetSeconds: 360,
  async run(context) {
    const rows: Row[] = [];
    const ratios: Ratio[] = [];
    const notes: string[] = [];
    const present = CONTENDERS.filter((c) => !c.skip);
    for (const c of CONTENDERS) if (c.skip) rows.push(skippedRow(c.name, c.skip));
    const figures = new Map<string, Figures>();
    const peaks = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < present.length; i++) {
        const contender = present[(i + r) % present.length];
        const peak = await measureRound(contender, figures, context);
        peaks.set(contender.name, [...(peaks.get(contender.name) ?? []), peak]);
      }
    }
    for (const c of present) {
      for (const { inFlight } of SETTINGS) {
        const f = figures.get(`${c.name}@${inFlight}`)!;
        rows.push({
          contender: c.name,
          setting: `${inFlight} in flight`,
          "jobs/s": Math.round(median(f.jps)),
          "jobs/s per round": f.jps.map((v) => Math.round(v)).join(" / "),
          "p50 ms": round(f.latency.percentile(50), 3),
          "p99 ms": round(f.latency.percentile(99), 3),
          "server CPU µs/job": round(median(f.cpuPerJob), 1),
          "load generator CPU µs/job": round(median(f.loadCpuPerJob), 1),
          "workers CPU µs/job": round(median(f.workerCpuPerJob), 1),
          "server peak RSS MB": round(median(peaks.get(c.name)!)),
        });
      }
    }
    const queued = new Map<string, number>();
    for (const c of present.filter((c) => MEMORY_CONTENDERS.has(c.name))) {
      const { rssMb, seconds } = await queuedMemory(c, context);
      queued.set(c.name, rssMb);
      rows.push({
        contender: c.name,
        setting: `${BACKGROUND_JOBS} background jobs queued`,
        "jobs/s": Math.round(BACKGROUND_JOBS / seconds),
        "server RSS MB": round(rssMb),
      });
    }

    const ours = "embedded";
    const fig = (name: string, inFlight: number) => figures.get(`${name}@${inFlight}`);
    for (const theirs of present.map((c) => c.name).filter((n) => n !== ours)) {
      if (!fig(ours, 1) || !fig(theirs, 1)) continue;
      const main = theirs === "gearmand";
      for (const { inFlight } of SETTINGS) {
        // Goals at 100 in flight against both: gearmand as started by default, and `-t 1` (its fastest here).
        const goal = inFlight === 100 ? { text: "≥ 1.0", met: (v: number) => v >= 1 } : undefined;
        const [a, b] = [fig(ours, inFlight)!.jps, fig(theirs, inFlight)!.jps];
        ratios.push(ratio(`${ours}/${theirs} jobs/s at ${inFlight} in flight`, median(a) / median(b), goal));
        // A round runs every server within seconds of each other: a ratio within a round shares the machine's moment.
        ratios.push(
          ratio(
            `${ours}/${theirs} jobs/s at ${inFlight} in flight, median of the rounds' own ratios`,
            medianOfRatios(a, b),
          ),
        );
        if (inFlight === 100)
          notes.push(
            `${ours}/${theirs} jobs/s at 100 in flight, round by round: ${a.map((v, r) => round(v / b[r], 2)).join(" / ")}.`,
          );
      }
      const p50 = (n: string) => fig(n, 1)!.latency.percentile(50);
      ratios.push(
        ratio(
          `${ours}/${theirs} p50 at 1 in flight`,
          p50(ours) / p50(theirs),
          main ? { text: "≤ 1.0", met: (v) => v <= 1 } : undefined,
        ),
      );
      const cpu = (n: string) => median(fig(n, 100)!.cpuPerJob);
      ratios.push(ratio(`${ours}/${theirs} server CPU per job at 100 in flight`, cpu(ours) / cpu(theirs)));
      if (queued.has(ours) && queued.has(theirs))
        ratios.push(
          ratio(`${ours}/${theirs} RSS with ${BACKGROUND_JOBS} queued jobs`, queued.get(ours)! / queued.get(theirs)!),
        );
    }
    return {
      rows,
      ratios,
      notes: [
        ...notes,
        ...present.map((c) => `Server ${c.settings}.`),
        "Load generator: this Node process; workers: one child Node process; raw sockets, TCP_NODELAY; every echoed payload is checked.",
        "Server CPU is user+system from /proc/PID/stat around each measured load (10 ms ticks); peak RSS is VmHWM after the round.",
        "Load generator, workers and server share 2 cores: a server that needs more CPU per job also takes it from the load generator.",
      ],
    };
  },
};
