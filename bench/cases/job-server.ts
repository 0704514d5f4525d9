/**
 * The embedded job server against gearmand: the same raw-socket load
 * generator and raw echo workers, 1 / 16 / 100 jobs in flight, alternating
 * servers over rounds; server CPU seconds and peak RSS; RSS with a million
 * queued background jobs.
 */
import { gearmand, embedded, type JobServerKind } from "../../test/support/job-servers.js";
import { rawBackground, rawLoad, rawWorker } from "../raw-gearman.js";
import { cpuSeconds, memoryMb, median, percentile } from "../measure.js";
import { ratio, round, type BenchCase, type Row } from "../bench-case.js";

const ROUNDS = 3;
const SETTINGS = [
  { inFlight: 1, jobs: 3000 },
  { inFlight: 16, jobs: 20_000 },
  { inFlight: 100, jobs: 40_000 },
];
const BACKGROUND_JOBS = Number(process.env.BENCH_BG_JOBS ?? 1_000_000);

interface Sample {
  jps: number[];
  lat: number[];
  cpu: number[];
}

async function runServer(kind: JobServerKind, samples: Map<string, Sample>): Promise<number> {
  const server = await kind.start({ jobRetries: 0 });
  try {
    const stops = await Promise.all([rawWorker(server.port, "echo"), rawWorker(server.port, "echo")]);
    for (const { inFlight, jobs } of SETTINGS) {
      const key = `${kind.name}/${inFlight}`;
      const sample = samples.get(key) ?? { jps: [], lat: [], cpu: [] };
      const cpuBefore = cpuSeconds(server.pid);
      const result = await rawLoad(server.port, "echo", inFlight, jobs);
      sample.cpu.push((cpuSeconds(server.pid) - cpuBefore) / (jobs / 10_000));
      sample.jps.push(result.jobsPerSecond);
      sample.lat.push(...result.latencies);
      samples.set(key, sample);
    }
    stops.forEach((stop) => stop());
    return memoryMb(server.pid).peak;
  } finally {
    await server.stop();
  }
}

async function backgroundRss(kind: JobServerKind): Promise<{ rss: number; seconds: number }> {
  const server = await kind.start({ jobRetries: 0 });
  try {
    const seconds = await rawBackground(server.port, "queued_only", BACKGROUND_JOBS);
    return { rss: memoryMb(server.pid).rss, seconds };
  } finally {
    await server.kill();
  }
}

export const jobServer: BenchCase = {
  name: "job-server",
  workload: `8-byte echo jobs from one raw client connection to 2 raw echo workers, 1/16/100 in flight; embedded (node dist/cli/main.js job-server) vs gearmand (-j 0, default threads); ${ROUNDS} alternating rounds, medians; then ${BACKGROUND_JOBS} background jobs queued with no worker`,
  async run() {
    const kinds = [gearmand, embedded].filter((k) => !k.skip);
    const notes = [gearmand, embedded].filter((k) => k.skip).map((k) => `${k.name} skipped: ${k.skip}`);
    const samples = new Map<string, Sample>();
    const peaks = new Map<string, number[]>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of r % 2 === 0 ? kinds : [...kinds].reverse()) {
        const peak = await runServer(kind, samples);
        peaks.set(kind.name, [...(peaks.get(kind.name) ?? []), peak]);
      }
    }
    const rows: Row[] = [];
    for (const kind of kinds) {
      for (const { inFlight } of SETTINGS) {
        const s = samples.get(`${kind.name}/${inFlight}`)!;
        rows.push({
          contender: kind.name,
          setting: `${inFlight} in flight`,
          "jobs/s": Math.round(median(s.jps)),
          "p50 ms": round(percentile(s.lat, 50), 3),
          "p99 ms": round(percentile(s.lat, 99), 3),
          "server CPU s per 10k jobs": round(median(s.cpu), 3),
          "server peak RSS MB": round(median(peaks.get(kind.name)!)),
        });
      }
    }
    for (const kind of kinds) {
      const { rss, seconds } = await backgroundRss(kind);
      rows.push({ contender: kind.name, setting: `${BACKGROUND_JOBS} background jobs queued`, "jobs/s": Math.round(BACKGROUND_JOBS / seconds), "server RSS MB": round(rss) });
    }
    const ratios = [];
    if (kinds.length === 2) {
      const get = (name: string, inFlight: number) => samples.get(`${name}/${inFlight}`)!;
      for (const { inFlight } of SETTINGS) {
        ratios.push(
          ratio(`embedded/gearmand jobs/s at ${inFlight} in flight`, median(get("embedded", inFlight).jps) / median(get("gearmand", inFlight).jps), inFlight === 100 ? { text: "≥ 1.0", met: (v) => v >= 1 } : undefined),
        );
      }
      ratios.push(
        ratio("embedded/gearmand p50 at 1 in flight", percentile(get("embedded", 1).lat, 50) / percentile(get("gearmand", 1).lat, 50), { text: "≤ 1.0", met: (v) => v <= 1 }),
      );
    }
    return { rows, ratios, notes };
  },
};
