/**
 * glimpse-cluster serve against the real Driveshaft, side by side on Driveshaft's own ground: gearmand -t 1 as the
 * job server, raw-socket clients, one jobsconfig pool of worker_count 8 per endpoint in each manager, three
 * endpoints:
 *
 *   16 raw clients, 1 job in flight each ──SUBMIT_JOB──► gearmand -t 1 ──► serve       (pools close_serve, …) ──POST──► endpoint
 *   (or 1 client, for the p50)                                       └──► Driveshaft  (pools close_ds, …)    ──POST──┘
 *
 *   close      php -S with 4 workers: a new connection per request, closed after the reply (as PHP's built-in server does)
 *   keepalive  a Node http server in its own process, connections kept alive
 *   cpu        php -S with 4 workers, each request spending 2 ms of CPU before it answers
 *
 * The endpoints answer with the job's workload, and every reply is checked. Both managers run all the time on
 * functions of their own (their idle pools cost nothing measurable); for each endpoint and setting they are measured
 * in blocks, alternating (serve first in even rounds, Driveshaft first in odd ones), and each block's CPU of every
 * process (clients, gearmand, the manager, the endpoint with its workers) and the machine's idle time are summed per
 * contender. Requests at the endpoint on average: serve's own count (glimpse_serve_endpoint_request_seconds_total),
 * and for Driveshaft the growth of its driveshaft_job_duration sum (its threads' time from taking a job to the
 * reply parsed), each read around the contender's blocks and divided by their time.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AdminClient } from "../../lib/gearman/index.js";
import { gearmand, type BenchJobServer } from "../job-servers.js";
import { rawClients } from "../raw-gearman.js";
import { cpuSeconds, machineTicks, processTree } from "../proc-stats.js";
import { LatencyHistogram } from "../histogram.js";
import { ratio, round, skippedRow, type BenchCase, type Ratio, type Row } from "../bench-case.js";
import { driveshaftJobSeconds, driveshaftSkip, startDriveshaft, type RunningDriveshaft } from "../driveshaft.js";
import { startServe, serveOccupancy, type RunningServe } from "../serve-process.js";
import { phpSkip, startPhpEndpoint, startNodeEndpoint, type RunningEndpoint } from "../serve-endpoints.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKER_COUNT = 8;
const ROUNDS = 8;
const PAYLOAD = Buffer.from("abcdefgh");

interface EndpointSpec {
  readonly key: "close" | "keepalive" | "cpu";
  readonly name: string;
  readonly php: boolean;
  readonly query: string;
  /** Jobs per block at 16 and at 1 in flight. */
  readonly block: { readonly 16: number; readonly 1: number };
}

const ENDPOINTS: readonly EndpointSpec[] = [
  {
    key: "close",
    name: "closes after each reply (php -S, 4 workers)",
    php: true,
    query: "",
    block: { 16: 3000, 1: 500 },
  },
  { key: "keepalive", name: "kept alive (Node http)", php: false, query: "", block: { 16: 4000, 1: 750 } },
  {
    key: "cpu",
    name: "2 ms of CPU a request (php -S, 4 workers)",
    php: true,
    query: "?cpu_us=2000",
    block: { 16: 800, 1: 200 },
  },
];
const IN_FLIGHT = [16, 1] as const;
type Manager = "serve" | "Driveshaft";
const FUNC = (endpoint: EndpointSpec, manager: Manager) => `${endpoint.key}_${manager === "serve" ? "serve" : "ds"}`;

interface Figures {
  jobs: number;
  seconds: number;
  readonly perRound: number[];
  readonly latency: LatencyHistogram;
  /** CPU seconds of: clients (this process), gearmand, the manager, the endpoint. */
  readonly cpu: [number, number, number, number];
  idleTicks: number;
  totalTicks: number;
  /** Seconds × requests at the endpoint: serve's own count; Driveshaft's threads' time in completed jobs. */
  atEndpoint: number;
}

const blank = (): Figures => ({
  jobs: 0,
  seconds: 0,
  perRound: [],
  latency: new LatencyHistogram(),
  cpu: [0, 0, 0, 0],
  idleTicks: 0,
  totalTicks: 0,
  atEndpoint: 0,
});

const sumCpu = (pids: readonly number[]) => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/** Waits until gearmand lists `workers` worker connections for each of `funcs` (the manager has registered). */
async function registered(admin: AdminClient, funcs: readonly string[], workers: number, what: () => string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await admin.status();
    if (funcs.every((func) => (status.find((s) => s.func === func)?.workers ?? 0) >= workers)) return;
    if (Date.now() > deadline)
      throw new Error(`${funcs.join(", ")}: fewer than ${workers} workers registered after 30 s\n${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const serveDriveshaft: BenchCase = {
  name: "serve-driveshaft",
  workload: `glimpse-cluster serve and the real Driveshaft (DRIVESHAFT_BIN), each with a pool of worker_count ${WORKER_COUNT} per endpoint, on gearmand -t 1, driven by raw-socket clients (16 clients with one 8-byte job in flight each, then 1 client); three endpoints: ${ENDPOINTS.map((e) => e.name).join("; ")}; per endpoint and setting ${ROUNDS} rounds of one block each, alternating`,
  budgetSeconds: 420,
  async run({ signal }) {
    const server = gearmand(1);
    if (server.skip) return { rows: [skippedRow("serve-driveshaft", server.skip)], ratios: [], notes: [] };
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-bench-driveshaft-"));
    const stops: (() => Promise<void>)[] = [];
    const rows: Row[] = [];
    const ratios: Ratio[] = [];
    const notes: string[] = [];
    try {
      const jobServer: BenchJobServer = await server.start();
      stops.push(() => jobServer.stop());
      const admin = new AdminClient(jobServer.url);
      stops.push(async () => admin.close());

      const endpoints = new Map<EndpointSpec["key"], RunningEndpoint>();
      const php = phpSkip ? undefined : await startPhpEndpoint(path.resolve(here, "../../../bench/serve-endpoint.php"));
      if (php) stops.push(() => php.stop());
      const node = await startNodeEndpoint(path.resolve(here, "../serve-endpoint.js"));
      stops.push(() => node.stop());
      for (const endpoint of ENDPOINTS) {
        const running = endpoint.php ? php : node;
        if (running) endpoints.set(endpoint.key, running);
      }
      const measured = ENDPOINTS.filter((e) => endpoints.has(e.key));

      const jobsConfig = (manager: Manager) => {
        const file = path.join(dir, `jobs-${manager}.json`);
        const pools: Record<string, unknown> = {};
        for (const endpoint of measured)
          pools[FUNC(endpoint, manager)] = {
            job_processing_uri: `${endpoints.get(endpoint.key)!.url}${endpoint.query}`,
            worker_count: WORKER_COUNT,
            jobs_list: [FUNC(endpoint, manager)],
          };
        writeFileSync(file, JSON.stringify({ gearman_servers_list: [jobServer.url], pools_list: pools }, null, 2));
        return file;
      };

      const serve: RunningServe = await startServe(jobsConfig("serve"));
      stops.push(() => serve.stop());
      await registered(
        admin,
        measured.map((e) => FUNC(e, "serve")),
        1,
        () => serve.log(),
      );
      let driveshaft: RunningDriveshaft | undefined;
      const managers: Manager[] = ["serve"];
      const managerPid = new Map<Manager, number>([["serve", serve.pid]]);
      if (driveshaftSkip) rows.push(skippedRow("Driveshaft", driveshaftSkip));
      else {
        const started = (driveshaft = await startDriveshaft(jobsConfig("Driveshaft"), dir));
        stops.push(() => started.stop());
        await registered(
          admin,
          measured.map((e) => FUNC(e, "Driveshaft")),
          WORKER_COUNT,
          () => started.log(),
        );
        managers.push("Driveshaft");
        managerPid.set("Driveshaft", started.pid);
        notes.push(`Driveshaft: ${started.command}`);
      }
      if (phpSkip) rows.push(skippedRow("closing and 2 ms CPU endpoints (php -S)", phpSkip));

      for (const endpoint of measured) {
        const endpointPids = processTree(endpoints.get(endpoint.key)!.pid);
        for (const inFlight of IN_FLIGHT) {
          const block = endpoint.block[inFlight];
          const figures = new Map(managers.map((m) => [m, blank()]));
          const load = (manager: Manager, jobs: number) =>
            rawClients({
              port: jobServer.port,
              func: FUNC(endpoint, manager),
              clients: inFlight,
              jobs,
              payload: PAYLOAD,
              signal,
            });
          for (const manager of managers) await load(manager, Math.max(inFlight, Math.round(block / 4)));
          for (let r = 0; r < ROUNDS; r++) {
            for (const manager of r % 2 === 0 ? managers : [...managers].reverse()) {
              const f = figures.get(manager)!;
              const groups = [[process.pid], [jobServer.pid], [managerPid.get(manager)!], endpointPids];
              const cpuBefore = groups.map(sumCpu);
              const ticksBefore = machineTicks();
              const busy = () =>
                manager === "serve"
                  ? serveOccupancy(serve, FUNC(endpoint, manager))
                  : driveshaftJobSeconds(driveshaft!, FUNC(endpoint, manager));
              const busyBefore = await busy();
              const result = await load(manager, block);
              const busyAfter = await busy();
              const ticksAfter = machineTicks();
              groups.forEach((pids, i) => (f.cpu[i] += sumCpu(pids) - cpuBefore[i]));
              f.idleTicks += ticksAfter.idle - ticksBefore.idle;
              f.totalTicks += ticksAfter.total - ticksBefore.total;
              f.atEndpoint += busyAfter - busyBefore;
              f.jobs += result.jobs;
              f.seconds += result.seconds;
              f.perRound.push(result.jobsPerSecond);
              f.latency.merge(result.latency);
            }
          }
          const load1 = os.loadavg()[0];
          for (const manager of managers) {
            const f = figures.get(manager)!;
            rows.push({
              contender: manager,
              setting: `${endpoint.key}, ${inFlight} in flight`,
              "jobs/s": Math.round(f.jobs / f.seconds),
              "jobs/s per round": f.perRound.map((v) => Math.round(v)).join(", "),
              "p50 ms": round(f.latency.percentile(50), 3),
              "p99 ms": round(f.latency.percentile(99), 3),
              "CPU µs/job: clients, gearmand, manager, endpoint": f.cpu
                .map((s) => Math.round((s / f.jobs) * 1e6))
                .join(", "),
              "machine idle %": round((100 * f.idleTicks) / f.totalTicks, 1),
              "requests at the endpoint (avg)": round(f.atEndpoint / f.seconds, 2),
              "load avg (1 min)": round(load1, 2),
            });
          }
          if (managers.length < 2) continue;
          const [s, d] = [figures.get("serve")!, figures.get("Driveshaft")!];
          if (inFlight === 16)
            ratios.push(
              ratio(
                `${endpoint.key}: serve / Driveshaft jobs/s at 16 in flight`,
                s.jobs / s.seconds / (d.jobs / d.seconds),
                {
                  text: "≥ 1.2",
                  met: (v) => v >= 1.2,
                },
              ),
            );
          else
            ratios.push(
              ratio(
                `${endpoint.key}: serve / Driveshaft p50 at 1 in flight`,
                s.latency.percentile(50) / d.latency.percentile(50),
                {
                  text: "≤ 1.0",
                  met: (v) => v <= 1,
                },
              ),
            );
        }
      }
      notes.push(
        `${os.availableParallelism()} cores shared by the clients, gearmand, the manager and the endpoint; load average at the end ${os
          .loadavg()
          .map((v) => v.toFixed(2))
          .join(" ")}`,
        `serve: ${serve.command}`,
        `job server: ${server.settings}`,
        "machine idle % is /proc/stat's idle and iowait time over the contender's blocks, of both cores",
        "requests at the endpoint (avg): serve's glimpse_serve_endpoint_request_seconds_total, Driveshaft's driveshaft_job_duration sum, each over the contender's blocks divided by their time",
      );
      return { rows, ratios, notes };
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
