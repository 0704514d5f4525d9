/**
 * Many idle workers: the scale case where a job server that wakes every
 * sleeping worker for each job (gearmand) pays per job for all of them.
 *
 *   for each round (server order rotates), on a fresh server:
 *     2 raw echo workers   → 1 job in flight  (the baseline)
 *     + 498 more workers   → 1 job in flight  (500 registered, all but one asleep)
 *                          → 5,000 SUBMIT_JOB_BG pipelined, drained by the 500
 *   server CPU read around each measured load
 */
import { embedded, gearmand, type BenchJobServer, type ServerContender } from "../job-servers.js";
import { LatencyHistogram } from "../histogram.js";
import { cpuSeconds } from "../proc-stats.js";
import { rawBackground, rawLoad, rawWorker, type RawWorker } from "../raw-gearman.js";
import { median } from "../measure.js";
import { ratio, round, skippedRow, type BenchCase, type CaseContext, type Ratio, type Row } from "../bench-case.js";

const FUNC = "echo";
const ROUNDS = 3;
const IDLE_WORKERS = 500;
/** Jobs measured with 2 workers, and with the idle ones (fewer: gearmand takes ~30 ms a job there). */
const JOBS = 2000;
const IDLE_JOBS = 300;
const WARMUP_JOBS = 2000;
const BACKGROUND_JOBS = 5000;

const CONTENDERS: readonly ServerContender[] = [embedded(), gearmand(), gearmand(1)];

interface Figures {
  latency: LatencyHistogram;
  jps: number[];
  /** Server CPU µs per job, one per round. */
  serverCpu: number[];
  /** CPU µs per job of this process (load generator and every worker), one per round. */
  loadCpu: number[];
}

const emptyFigures = (): Figures => ({ latency: new LatencyHistogram(), jps: [], serverCpu: [], loadCpu: [] });

function figuresFor(all: Map<string, Figures>, key: string): Figures {
  let f = all.get(key);
  if (!f) all.set(key, (f = emptyFigures()));
  return f;
}

/** Runs `load`, adding jobs/s, server CPU and this process's CPU per job to `f`. */
async function measured(
  server: BenchJobServer,
  jobs: number,
  f: Figures,
  load: () => Promise<{ seconds: number; latency?: LatencyHistogram }>,
): Promise<void> {
  const serverBefore = cpuSeconds(server.pid);
  const loadBefore = process.cpuUsage();
  const { seconds, latency } = await load();
  f.serverCpu.push(((cpuSeconds(server.pid) - serverBefore) / jobs) * 1e6);
  const own = process.cpuUsage(loadBefore);
  f.loadCpu.push((own.user + own.system) / jobs);
  f.jps.push(jobs / seconds);
  if (latency) f.latency.merge(latency);
}

/** Resolves once `count` jobs were echoed by the workers counting into `counter`. */
function drained(counter: { done: number; wake?: () => void }, count: number): Promise<void> {
  if (counter.done >= count) return Promise.resolve();
  return new Promise((resolve) => {
    counter.wake = () => {
      if (counter.done >= count) resolve();
    };
  });
}

async function measureRound(
  contender: ServerContender,
  all: Map<string, Figures>,
  { signal }: CaseContext,
): Promise<void> {
  const server = await contender.start();
  const workers: RawWorker[] = [];
  const counter: { done: number; wake?: () => void } = { done: 0 };
  const onJob = () => {
    counter.done++;
    counter.wake?.();
  };
  try {
    workers.push(
      ...(await Promise.all([
        rawWorker(server.port, FUNC, signal, onJob),
        rawWorker(server.port, FUNC, signal, onJob),
      ])),
    );
    await rawLoad({ port: server.port, func: FUNC, inFlight: 1, jobs: WARMUP_JOBS, signal });
    await measured(server, JOBS, figuresFor(all, `${contender.name}@2`), () =>
      rawLoad({ port: server.port, func: FUNC, inFlight: 1, jobs: JOBS, signal }),
    );

    for (let opened = workers.length; opened < IDLE_WORKERS; opened += 50) {
      const batch = Math.min(50, IDLE_WORKERS - opened);
      workers.push(
        ...(await Promise.all(Array.from({ length: batch }, () => rawWorker(server.port, FUNC, signal, onJob)))),
      );
    }
    await rawLoad({ port: server.port, func: FUNC, inFlight: 1, jobs: 30, signal });
    await measured(server, IDLE_JOBS, figuresFor(all, `${contender.name}@${IDLE_WORKERS}`), () =>
      rawLoad({ port: server.port, func: FUNC, inFlight: 1, jobs: IDLE_JOBS, signal }),
    );

    counter.done = 0;
    await measured(server, BACKGROUND_JOBS, figuresFor(all, `${contender.name}@background`), async () => {
      const begin = performance.now();
      await rawBackground({ port: server.port, func: FUNC, jobs: BACKGROUND_JOBS, signal });
      await drained(counter, BACKGROUND_JOBS);
      return { seconds: (performance.now() - begin) / 1000 };
    });
  } finally {
    for (const worker of workers) worker.close();
    await server.stop();
  }
}

export const idleWorkers: BenchCase = {
  name: "idle-workers",
  workload: `8-byte echo jobs from one raw client, one job in flight, to 2 raw echo workers (${JOBS} jobs after ${WARMUP_JOBS} warm-up) and then to ${IDLE_WORKERS} raw echo worker connections (${IDLE_JOBS} jobs after 30 warm-up) registered for the one function (all but the busy one asleep); then ${BACKGROUND_JOBS} SUBMIT_JOB_BG pipelined (window 2000) and drained by the ${IDLE_WORKERS}; a fresh server per round, ${ROUNDS} rounds rotating the server order`,
  budgetSeconds: 300,
  async run(context) {
    const rows: Row[] = [];
    const ratios: Ratio[] = [];
    const present = CONTENDERS.filter((c) => !c.skip);
    for (const c of CONTENDERS) if (c.skip) rows.push(skippedRow(c.name, c.skip));
    const all = new Map<string, Figures>();
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < present.length; i++) await measureRound(present[(i + r) % present.length], all, context);
    }
    const settings = [
      { key: "2", setting: "2 workers, 1 in flight" },
      { key: String(IDLE_WORKERS), setting: `${IDLE_WORKERS} workers, 1 in flight` },
      { key: "background", setting: `${IDLE_WORKERS} workers drain ${BACKGROUND_JOBS} background jobs` },
    ];
    for (const c of present) {
      for (const { key, setting } of settings) {
        const f = all.get(`${c.name}@${key}`)!;
        rows.push({
          contender: c.name,
          setting,
          "jobs/s": Math.round(median(f.jps)),
          "jobs/s per round": f.jps.map((v) => Math.round(v)).join(" / "),
          ...(key === "background"
            ? {}
            : { "p50 ms": round(f.latency.percentile(50), 3), "p99 ms": round(f.latency.percentile(99), 3) }),
          "server CPU µs/job": round(median(f.serverCpu), 1),
          "load generator + workers CPU µs/job": round(median(f.loadCpu), 1),
        });
      }
    }
    const fig = (name: string, key: string) => all.get(`${name}@${key}`);
    const p50 = (name: string, key: string) => fig(name, key)!.latency.percentile(50);
    if (fig("embedded", "2")) {
      ratios.push(
        ratio(
          `embedded p50 with ${IDLE_WORKERS} idle workers / with 2`,
          p50("embedded", String(IDLE_WORKERS)) / p50("embedded", "2"),
          { text: "≤ 1.2", met: (v) => v <= 1.2 },
        ),
      );
      for (const theirs of present.map((c) => c.name).filter((n) => n !== "embedded")) {
        ratios.push(
          ratio(
            `${theirs} p50 with ${IDLE_WORKERS} idle workers / with 2`,
            p50(theirs, String(IDLE_WORKERS)) / p50(theirs, "2"),
          ),
        );
        ratios.push(
          ratio(
            `embedded/${theirs} p50 with ${IDLE_WORKERS} idle workers`,
            p50("embedded", String(IDLE_WORKERS)) / p50(theirs, String(IDLE_WORKERS)),
          ),
        );
        const cpu = (n: string) => median(fig(n, String(IDLE_WORKERS))!.serverCpu);
        ratios.push(
          ratio(
            `embedded/${theirs} server CPU per job with ${IDLE_WORKERS} idle workers`,
            cpu("embedded") / cpu(theirs),
          ),
        );
        const bg = (n: string) => median(fig(n, "background")!.jps);
        ratios.push(
          ratio(
            `embedded/${theirs} jobs/s draining ${BACKGROUND_JOBS} background jobs with ${IDLE_WORKERS} workers`,
            bg("embedded") / bg(theirs),
          ),
        );
      }
    }
    return {
      rows,
      ratios,
      notes: [
        ...present.map((c) => `Server ${c.settings}.`),
        `Every worker is a raw socket in this process: GRAB_JOB_UNIQ, PRE_SLEEP on NO_JOB, GRAB_JOB_UNIQ again on NOOP, so what a server's wake-ups cost its workers shows in this process's CPU column.`,
        "The embedded server wakes one sleeping worker per queued job (and more only when a woken one does not ask within 50 ms: docs/job-server.md); gearmand sends NOOP to every sleeping worker that can do the job.",
        "Server CPU is user+system from /proc/PID/stat around each measured load (10 ms ticks).",
      ],
    };
  },
};
