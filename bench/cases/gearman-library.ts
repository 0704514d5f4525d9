/**
 * Our GearmanClient + GearmanWorker against the raw-socket load generator:
 * the same 8-byte echo jobs through the same gearmand, 2 workers each,
 * contenders alternating within every round so noise hits both alike.
 */
import { GearmanClient, GearmanWorker } from "../../lib/gearman/index.js";
import { gearmand, type BenchJobServer } from "../job-servers.js";
import { abortable } from "../budget.js";
import { LatencyHistogram } from "../histogram.js";
import { rawLoad, rawWorker, type LoadResult } from "../raw-gearman.js";
import { median } from "../measure.js";
import { cpuSeconds } from "../proc-stats.js";
import { ratio, round, skippedRow, type BenchCase, type CaseContext, type Ratio, type Row } from "../bench-case.js";

const FUNC = "bench_echo";
const ROUNDS = 5;
const WARMUP_JOBS = 2000;
const SETTINGS = [
  { inFlight: 1, jobs: 3000 },
  { inFlight: 100, jobs: 30_000 },
] as const;
const PAYLOAD = Buffer.alloc(8, 7);
/** One I/O thread: on 2 shared cores gearmand with its default threads is the slower server (job-server case), and the server should limit neither contender. */
const peer = gearmand(1);

type Contender = (server: BenchJobServer, inFlight: number, jobs: number, context: CaseContext) => Promise<LoadResult>;

const raw: Contender = async (server, inFlight, jobs, { signal }) => {
  const workers = await Promise.all([rawWorker(server.port, FUNC, signal), rawWorker(server.port, FUNC, signal)]);
  try {
    await rawLoad({ port: server.port, func: FUNC, inFlight, jobs: WARMUP_JOBS, payload: PAYLOAD, signal });
    return await rawLoad({ port: server.port, func: FUNC, inFlight, jobs, payload: PAYLOAD, signal });
  } finally {
    for (const worker of workers) worker.close();
  }
};

/** `jobs` submits through one GearmanClient, `inFlight` lanes each awaiting its job's result before the next. */
async function libraryRun(
  client: GearmanClient,
  inFlight: number,
  jobs: number,
  signal: AbortSignal,
): Promise<LoadResult> {
  const latency = new LatencyHistogram();
  let next = 0;
  const lane = async () => {
    while (next < jobs) {
      signal.throwIfAborted();
      next++;
      const at = performance.now();
      const result = await abortable(client.submitJob(FUNC, PAYLOAD).result, signal);
      latency.record(performance.now() - at);
      if (!result.equals(PAYLOAD))
        throw new Error(`gearman-library: a job came back with ${result.length} bytes that are not its payload`);
    }
  };
  const begin = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, jobs) }, lane));
  const seconds = (performance.now() - begin) / 1000;
  return { jobs, seconds, jobsPerSecond: jobs / seconds, latency };
}

const library: Contender = async (server, inFlight, jobs, { signal }) => {
  const workers = [0, 1].map(() =>
    new GearmanWorker({ servers: server.url, concurrency: 1 }).register(FUNC, (job) => job.data).start(),
  );
  const client = new GearmanClient({ servers: server.url });
  try {
    await libraryRun(client, inFlight, WARMUP_JOBS, signal);
    return await libraryRun(client, inFlight, jobs, signal);
  } finally {
    await client.close();
    await Promise.all(workers.map((worker) => worker.close()));
  }
};

const CONTENDERS = [
  { name: "raw sockets", run: raw },
  { name: "glimpse-cluster library", run: library },
];

export const gearmanLibrary: BenchCase = {
  name: "gearman-library",
  workload: `8-byte echo jobs through one gearmand -t 1, one client connection, 2 echo workers (one job at a time each); our GearmanClient + 2 GearmanWorker(concurrency 1) vs a raw-socket client + 2 raw workers; 1 and 100 jobs in flight; ${ROUNDS} rounds alternating which contender goes first, ${WARMUP_JOBS} warm-up jobs each time; jobs/s is the median round, p50/p99 over all rounds`,
  budgetSeconds: 120,
  async run(context) {
    if (peer.skip) return { rows: [skippedRow(peer.name, peer.skip)], ratios: [], notes: [] };
    const rows: Row[] = [];
    const ratios: Ratio[] = [];
    const running = await peer.start();
    try {
      for (const { inFlight, jobs } of SETTINGS) {
        const figures = CONTENDERS.map(() => ({
          jps: [] as number[],
          cpuPerJob: [] as number[],
          serverCpuPerJob: [] as number[],
          latency: new LatencyHistogram(),
        }));
        for (let r = 0; r < ROUNDS; r++) {
          const order = r % 2 === 0 ? [0, 1] : [1, 0];
          for (const i of order) {
            const cpuBefore = process.cpuUsage();
            const serverCpuBefore = cpuSeconds(running.pid);
            const result = await CONTENDERS[i].run(running, inFlight, jobs, context);
            const cpu = process.cpuUsage(cpuBefore);
            figures[i].cpuPerJob.push((cpu.user + cpu.system) / (jobs + WARMUP_JOBS));
            figures[i].serverCpuPerJob.push(((cpuSeconds(running.pid) - serverCpuBefore) / (jobs + WARMUP_JOBS)) * 1e6);
            figures[i].jps.push(result.jobsPerSecond);
            figures[i].latency.merge(result.latency);
          }
        }
        CONTENDERS.forEach(({ name }, i) =>
          rows.push({
            contender: name,
            setting: `${inFlight} in flight`,
            "jobs/s": Math.round(median(figures[i].jps)),
            "jobs/s per round": figures[i].jps.map((v) => Math.round(v)).join(" / "),
            "p50 ms": round(figures[i].latency.percentile(50), 3),
            "p99 ms": round(figures[i].latency.percentile(99), 3),
            "client+workers CPU µs/job": round(median(figures[i].cpuPerJob), 1),
            "gearmand CPU µs/job": round(median(figures[i].serverCpuPerJob), 1),
          }),
        );
        const [rawFig, libFig] = figures;
        ratios.push(
          ratio(
            `library/raw jobs/s at ${inFlight} in flight`,
            median(libFig.jps) / median(rawFig.jps),
            inFlight === 100 ? { text: "≥ 0.85", met: (v) => v >= 0.85 } : undefined,
          ),
          ratio(
            `library/raw p50 round trip at ${inFlight} in flight`,
            libFig.latency.percentile(50) / rawFig.latency.percentile(50),
          ),
          ratio(
            `library/raw p99 round trip at ${inFlight} in flight`,
            libFig.latency.percentile(99) / rawFig.latency.percentile(99),
          ),
          ratio(
            `library/raw client+workers CPU per job at ${inFlight} in flight`,
            median(libFig.cpuPerJob) / median(rawFig.cpuPerJob),
          ),
        );
      }
    } finally {
      await running.stop();
    }
    return {
      rows,
      ratios,
      notes: [
        `Server: ${peer.settings}, one per case run, shared by both contenders.`,
        "Every job's result is checked to be its payload. Round trip = submit to result, in the load generator's process.",
        "Client+workers CPU: user+system of the bench process (client and both workers live in it) over warm-up and measured jobs, divided by those jobs; includes worker start and stop. gearmand CPU over the same span, from /proc.",
        "Client, workers and gearmand share the machine's cores: the contender that spends more CPU per job also slows the server.",
      ],
    };
  },
};
