/**
 * Our GearmanClient + GearmanWorker against the raw-socket load generator,
 * the same echo jobs through the same gearmand, alternating over rounds.
 */
import { GearmanClient, GearmanWorker } from "../../lib/gearman/index.js";
import { gearmand } from "../../test/support/job-servers.js";
import { rawLoad, rawWorker } from "../raw-gearman.js";
import { median, percentile } from "../measure.js";
import { ratio, round, type BenchCase, type Row } from "../bench-case.js";

const ROUNDS = 3;
const SETTINGS = [
  { inFlight: 1, jobs: 3000 },
  { inFlight: 100, jobs: 40_000 },
];

async function libraryLoad(url: string, inFlight: number, total: number) {
  const client = new GearmanClient({ servers: url });
  const payload = Buffer.alloc(8, 7);
  const latencies: number[] = [];
  let next = 0;
  const begin = performance.now();
  const lane = async () => {
    while (next < total) {
      next++;
      const t = performance.now();
      await client.submitJob("bench_echo", payload).result;
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - begin) / 1000;
  await client.close();
  return { jobsPerSecond: total / seconds, latencies };
}

export const gearmanLibrary: BenchCase = {
  name: "gearman-library",
  workload: "8-byte echo jobs through gearmand (-t default, -j 0), 2 workers; our client+worker vs a raw-socket client+workers; 1 and 100 jobs in flight, 3 alternating rounds, medians",
  async run() {
    if (gearmand.skip) return { rows: [], ratios: [], notes: [`skipped: ${gearmand.skip}`] };
    const server = await gearmand.start({ jobRetries: 0 });
    const rows: Row[] = [];
    const ratios = [];
    try {
      for (const { inFlight, jobs } of SETTINGS) {
        const raw: { jps: number[]; lat: number[] } = { jps: [], lat: [] };
        const lib: { jps: number[]; lat: number[] } = { jps: [], lat: [] };
        for (let round = 0; round < ROUNDS; round++) {
          const stops = await Promise.all([rawWorker(server.port, "bench_echo"), rawWorker(server.port, "bench_echo")]);
          const r = await rawLoad(server.port, "bench_echo", inFlight, jobs);
          stops.forEach((stop) => stop());
          raw.jps.push(r.jobsPerSecond);
          raw.lat.push(...r.latencies);
          const workers = [0, 1].map(() => new GearmanWorker({ servers: server.url, concurrency: 1 }).register("bench_echo", (job) => job.data).start());
          const l = await libraryLoad(server.url, inFlight, jobs);
          await Promise.all(workers.map((w) => w.close()));
          lib.jps.push(l.jobsPerSecond);
          lib.lat.push(...l.latencies);
        }
        for (const [contender, m] of [["raw sockets", raw], ["glimpse-cluster library", lib]] as const) {
          rows.push({ contender, setting: `${inFlight} in flight`, "jobs/s": Math.round(median(m.jps)), "p50 ms": round(percentile(m.lat, 50), 3), "p99 ms": round(percentile(m.lat, 99), 3) });
        }
        ratios.push(
          ratio(`library/raw jobs/s at ${inFlight} in flight`, median(lib.jps) / median(raw.jps), inFlight === 100 ? { text: "≥ 0.85", met: (v) => v >= 0.85 } : undefined),
        );
      }
    } finally {
      await server.stop();
    }
    return { rows, ratios, notes: ["Workers: 2 raw echo workers vs 2 GearmanWorker(concurrency 1). Client: one connection in both cases."] };
  },
};
