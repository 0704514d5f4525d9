/**
 * What Prometheus costs the job server: the embedded server under full load
 * (100 echo jobs in flight), with --metrics-port scraped every second,
 * against the same server without metrics, side by side in alternating
 * rounds on fresh servers (the goal's ratio); then on one metrics server,
 * load segments scraped and not scraped in turn (ABBA: the steady state,
 * once the server has been scraped); then the CPU one scrape costs, alone.
 *
 *   for each round (order alternates):  start server → 2 raw workers → warm-up
 *     → 100 in flight (and, with metrics, GET /metrics every second) → stop
 *   one metrics server: warm-up → 24 segments, scraped every second or not (ABBA ABBA ...)
 */
import http from "node:http";
import { SCRAPE_EVERY_MS, get, scrapeEverySecond, type Scrapes } from "../metrics-scraper.js";
import { embedded, type ServerContender } from "../job-servers.js";
import { rawLoad, rawWorker } from "../raw-gearman.js";
import { median } from "../measure.js";
import { cpuSeconds } from "../proc-stats.js";
import { ratio, round, skippedRow, type BenchCase, type Row } from "../bench-case.js";

const FUNC = "echo";
const ROUNDS = 8;
/** Jobs a round; BENCH_SCRAPE_JOBS overrides (e.g. for a quick look). */
const JOBS = Number(process.env.BENCH_SCRAPE_JOBS ?? 60_000);
const IN_FLIGHT = 100;
const WARMUP_JOBS = 2000;
/** Load segments on one metrics server, scraped every second or not, alternating (ABBA): what each scrape costs in the steady state. */
const SEGMENTS = 24;
/** Scrapes back to back on a server that has run the load once, for the server CPU one scrape costs. */
const COST_SCRAPES = 300;

const PLAIN = embedded();
const SCRAPED = embedded({ metrics: true });

type RunningServer = Awaited<ReturnType<ServerContender["start"]>>;

/** A server's first scrapes load and compile its HTTP and exposition code (tens of ms, once in its life): part of the warm-up. */
async function warmScrapes(url: string): Promise<void> {
  const warm = new http.Agent({ keepAlive: false });
  for (let i = 0; i < 5; i++) await get(url, warm);
}

/** `jobs` at IN_FLIGHT on `server`, its /metrics scraped every second into `scrapes` when given: jobs/s and server CPU µs per job. */
async function loadStretch(
  server: RunningServer,
  jobs: number,
  signal: AbortSignal,
  scrapes?: Scrapes,
): Promise<{ jobsPerSecond: number; cpuPerJob: number }> {
  const stop = scrapes ? scrapeEverySecond(server.metricsUrl!, scrapes) : undefined;
  try {
    const cpuBefore = cpuSeconds(server.pid);
    const result = await rawLoad({ port: server.port, func: FUNC, inFlight: IN_FLIGHT, jobs, signal });
    return { jobsPerSecond: result.jobsPerSecond, cpuPerJob: ((cpuSeconds(server.pid) - cpuBefore) / jobs) * 1e6 };
  } finally {
    await stop?.();
  }
}

export const metricsScrape: BenchCase = {
  name: "metrics-scrape",
  workload: `the embedded job server, 8-byte echo jobs from one raw client to 2 raw echo workers, ${IN_FLIGHT} in flight, ${JOBS} jobs a round after ${WARMUP_JOBS} warm-up jobs; without metrics, and with --metrics-port scraped (GET /metrics) every ${SCRAPE_EVERY_MS} ms during the load (5 scrapes in the warm-up); ${ROUNDS} rounds on fresh servers, alternating which goes first; then ${SEGMENTS} segments of ${JOBS / 2} jobs on one metrics server, scraped every second or not in turn (ABBA); jobs/s is the median round or segment`,
  budgetSeconds: 300,
  async run({ signal }) {
    const rows: Row[] = [];
    if (PLAIN.skip) return { rows: [skippedRow(PLAIN.name, PLAIN.skip)], ratios: [], notes: [] };
    const jps = new Map<string, number[]>([
      [PLAIN.name, []],
      [SCRAPED.name, []],
    ]);
    /** Server CPU µs per job, per round. */
    const cpu = new Map<string, number[]>([
      [PLAIN.name, []],
      [SCRAPED.name, []],
    ]);
    const scrapes: Scrapes = { count: 0, ms: [], bytes: 0 };
    for (let r = 0; r < ROUNDS; r++) {
      const order: ServerContender[] = r % 2 === 0 ? [PLAIN, SCRAPED] : [SCRAPED, PLAIN];
      for (const contender of order) {
        const server = await contender.start();
        try {
          const workers = await Promise.all([
            rawWorker(server.port, FUNC, signal),
            rawWorker(server.port, FUNC, signal),
          ]);
          try {
            await rawLoad({ port: server.port, func: FUNC, inFlight: IN_FLIGHT, jobs: WARMUP_JOBS, signal });
            if (server.metricsUrl) await warmScrapes(server.metricsUrl);
            const stretch = await loadStretch(server, JOBS, signal, server.metricsUrl ? scrapes : undefined);
            cpu.get(contender.name)!.push(stretch.cpuPerJob);
            jps.get(contender.name)!.push(stretch.jobsPerSecond);
          } finally {
            for (const worker of workers) worker.close();
          }
        } finally {
          await server.stop();
        }
      }
    }
    for (const contender of [PLAIN, SCRAPED]) {
      const figures = jps.get(contender.name)!;
      rows.push({
        contender: contender.name,
        setting: `${IN_FLIGHT} in flight${contender === SCRAPED ? ", scraped every second" : ""}`,
        "jobs/s": Math.round(median(figures)),
        "jobs/s per round": figures.map((v) => Math.round(v)).join(" / "),
        "server CPU µs/job": round(median(cpu.get(contender.name)!), 1),
        ...(contender === SCRAPED
          ? { scrapes: scrapes.count, "scrape p50 ms": round(median(scrapes.ms), 2), "exposition bytes": scrapes.bytes }
          : {}),
      });
    }
    // Scraped and unscraped load on one server, in alternating segments: what each scrape costs once the server's
    // code has seen a scrape. The fresh servers' figures carry the goal: they also include what the first scrapes
    // under load do to the server's compiled code (with /metrics on the server's own thread, about 6% CPU per job).
    const segments = {
      scraped: [] as number[],
      unscraped: [] as number[],
      scrapedCpu: [] as number[],
      unscrapedCpu: [] as number[],
    };
    {
      const server = await SCRAPED.start();
      try {
        const workers = await Promise.all([rawWorker(server.port, FUNC, signal), rawWorker(server.port, FUNC, signal)]);
        try {
          await rawLoad({ port: server.port, func: FUNC, inFlight: IN_FLIGHT, jobs: WARMUP_JOBS, signal });
          await warmScrapes(server.metricsUrl!);
          for (let s = 0; s < SEGMENTS; s++) {
            const scraped = s % 4 === 0 || s % 4 === 3;
            const stretch = await loadStretch(
              server,
              JOBS / 2,
              signal,
              scraped ? { count: 0, ms: [], bytes: 0 } : undefined,
            );
            (scraped ? segments.scrapedCpu : segments.unscrapedCpu).push(stretch.cpuPerJob);
            (scraped ? segments.scraped : segments.unscraped).push(stretch.jobsPerSecond);
          }
        } finally {
          for (const worker of workers) worker.close();
        }
      } finally {
        await server.stop();
      }
    }
    for (const scraped of [false, true]) {
      const figures = scraped ? segments.scraped : segments.unscraped;
      rows.push({
        contender: SCRAPED.name,
        setting: `one server, ${SEGMENTS / 2} segments of ${JOBS / 2} jobs${scraped ? ", scraped every second" : ", not scraped"}`,
        "jobs/s": Math.round(median(figures)),
        "jobs/s per round": figures.map((v) => Math.round(v)).join(" / "),
        "server CPU µs/job": round(median(scraped ? segments.scrapedCpu : segments.unscrapedCpu), 1),
      });
    }
    // What one scrape costs the server, measured alone (no load to share the cores with): its CPU time over many scrapes.
    const server = await SCRAPED.start();
    let cpuPerScrapeMs: number;
    try {
      const workers = await Promise.all([rawWorker(server.port, FUNC, signal), rawWorker(server.port, FUNC, signal)]);
      try {
        await rawLoad({ port: server.port, func: FUNC, inFlight: IN_FLIGHT, jobs: WARMUP_JOBS, signal });
      } finally {
        for (const worker of workers) worker.close();
      }
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 0; i < 20; i++) await get(server.metricsUrl!, agent);
      const before = cpuSeconds(server.pid);
      for (let i = 0; i < COST_SCRAPES; i++) await get(server.metricsUrl!, agent);
      cpuPerScrapeMs = ((cpuSeconds(server.pid) - before) / COST_SCRAPES) * 1000;
      agent.destroy();
    } finally {
      await server.stop();
    }
    const plainJps = median(jps.get(PLAIN.name)!);
    const serverCpuPerSecondMs = (median(cpu.get(PLAIN.name)!) / 1000) * plainJps;
    rows.push({
      contender: SCRAPED.name,
      setting: `${COST_SCRAPES} scrapes back to back, no load`,
      "server CPU ms/scrape": round(cpuPerScrapeMs, 3),
    });
    // Each round ran both back to back: the median of the rounds' own ratios cancels the machine's drift between rounds.
    const paired = jps.get(SCRAPED.name)!.map((v, i) => v / jps.get(PLAIN.name)![i]);
    const cpuPaired = cpu.get(SCRAPED.name)!.map((v, i) => v / cpu.get(PLAIN.name)![i]);
    // Segments pair up in order (ABBA ABBA...: the i-th scraped with the i-th unscraped, neighbours in time).
    const segmentPaired = segments.scraped.map((v, i) => v / segments.unscraped[i]);
    const segmentCpuPaired = segments.scrapedCpu.map((v, i) => v / segments.unscrapedCpu[i]);
    return {
      rows,
      ratios: [
        ratio("scraped/plain jobs/s on fresh servers (median of the rounds' ratios)", median(paired), {
          text: "≥ 0.98 (scraping costs < 2%)",
          met: (v) => v >= 0.98,
        }),
        ratio("scraped/plain jobs/s (medians)", median(jps.get(SCRAPED.name)!) / median(jps.get(PLAIN.name)!)),
        ratio("scraped/plain server CPU per job (median of the rounds' ratios)", median(cpuPaired)),
        ratio(
          "scraped/unscraped jobs/s on one server (median of the neighbouring segments' ratios)",
          median(segmentPaired),
        ),
        ratio(
          "scraped/unscraped server CPU per job on one server (median of the neighbouring segments' ratios)",
          median(segmentCpuPaired),
        ),
        ratio(
          "one scrape a second, as a share of the server's CPU at full load (CPU per scrape ÷ CPU per second at the plain jobs/s)",
          (cpuPerScrapeMs * (1000 / SCRAPE_EVERY_MS)) / 1000 / (serverCpuPerSecondMs / 1000),
          { text: "< 0.02", met: (v) => v < 0.02 },
        ),
      ],
      notes: [
        `${PLAIN.settings}.`,
        `${SCRAPED.settings}.`,
        "The scraper is this process (the load generator's): node:http GET on a kept-alive connection; the exposition (glimpse_jobserver_* only: with prom-client's default process_*/nodejs_* metrics, whose GC observer runs on every collection, the ratio was about 0.70 on this machine).",
        "The job server serves /metrics from a worker thread that asks the server's thread for its figures at each scrape; server CPU is the whole process's, that thread's included. Served from the server's own thread, the first scrapes under load deoptimized the stream functions the Gearman connections run through: scraped/plain server CPU per job on fresh servers was 1.04-1.10 over five runs.",
        "Load generator, workers and server share 2 cores; round-to-round spread is the noise floor of the jobs/s ratios, which on a machine shared with other work swing by ±20%; the CPU a scrape costs, measured alone, does not depend on that.",
      ],
    };
  },
};
