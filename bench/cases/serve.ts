/**
 * glimpse-cluster serve (the CLI in a process of its own, worker_count 8)
 * against the endpoint it calls, called directly by an HTTP client with the
 * same multipart body over kept-alive connections: jobs/s and p50/p99 at 1
 * and 16 in flight, in one run; and a module pool (worker_count 8) beside
 * them. The goal's direct client is Node's http client; the endpoint is
 * also called with serve's own HTTP client, whose lower CPU per request
 * shows the endpoint's ceiling on this machine. At each setting the three are measured in blocks, rotating, so a
 * noisy moment of the machine hits them alike. The endpoint is a trivial Node server in its own process; the job
 * server is the embedded one in this process, as are both clients.
 */
import { spawn, type ChildProcess } from "node:child_process";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JobServer } from "../../lib/server/index.js";
import { GearmanClient } from "../../lib/gearman/index.js";
import { multipartBody } from "../../lib/serve/endpoint-request.js";
import { EndpointClient } from "../../lib/serve/endpoint-client.js";
import { JobAbort } from "../../lib/serve/executor.js";
import { cpuSeconds } from "../proc-stats.js";
import { LatencyHistogram } from "../histogram.js";
import { ratio, round, type BenchCase, type Row } from "../bench-case.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "../../cli/main.js");
const WORKER_COUNT = 8;
/** Per setting: warm-up calls of each contender, then `rounds` blocks of `block` calls each, rotating. */
const SETTINGS = [
  { inFlight: 1, warmup: 500, block: 500, rounds: 6 },
  { inFlight: 16, warmup: 2000, block: 2000, rounds: 6 },
] as const;

interface Figures {
  readonly jobsPerSecond: number;
  readonly latency: LatencyHistogram;
  /** CPU µs per job of each process watched (bench, serve, endpoint). */
  readonly cpuPerJob: readonly number[];
}

/** Runs `count` calls of `once` with `inFlight` at a time; times each into `latency`; returns the ms it took. */
async function drive(
  inFlight: number,
  count: number,
  once: () => Promise<unknown>,
  latency?: LatencyHistogram,
): Promise<number> {
  let next = 0;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < count) {
        const t = performance.now();
        await once();
        latency?.record(performance.now() - t);
      }
    }),
  );
  return performance.now() - begin;
}

/** Each contender warmed up, then measured in blocks rotating among them; the CPU each of `pids` spent in a contender's blocks is summed. */
async function rotate(
  setting: (typeof SETTINGS)[number],
  contenders: readonly (() => Promise<unknown>)[],
  pids: readonly number[],
): Promise<Figures[]> {
  const { inFlight, warmup, block, rounds } = setting;
  for (const once of contenders) await drive(inFlight, warmup, once);
  const figures = contenders.map(() => ({ ms: 0, latency: new LatencyHistogram(), cpu: pids.map(() => 0) }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, once] of contenders.entries()) {
      const before = pids.map(cpuSeconds);
      figures[i].ms += await drive(inFlight, block, once, figures[i].latency);
      pids.forEach((pid, p) => (figures[i].cpu[p] += cpuSeconds(pid) - before[p]));
    }
  }
  const jobs = block * rounds;
  return figures.map(({ ms, latency, cpu }) => ({
    jobsPerSecond: jobs / (ms / 1000),
    latency,
    cpuPerJob: cpu.map((seconds) => (seconds / jobs) * 1e6),
  }));
}

function startChild(args: string[], ready: RegExp): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        child.stdout!.off("data", onData);
        child.stdout!.resume();
        resolve({ child, match });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) =>
      reject(new Error(`${args.join(" ")} exited (${code}) before it was ready:\n${output}`)),
    );
  });
}

const stop = (child: ChildProcess | undefined) =>
  new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
  });

function directPost(url: URL, agent: http.Agent, body: Buffer, contentType: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { "content-type": contentType, "content-length": body.length } },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200 ? resolve() : reject(new Error(`endpoint answered ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const row = (contender: string, inFlight: number, f: Figures): Row => ({
  contender,
  setting: `${inFlight} in flight`,
  "jobs/s": Math.round(f.jobsPerSecond),
  "p50 ms": round(f.latency.percentile(50), 3),
  "p99 ms": round(f.latency.percentile(99), 3),
  "CPU µs/job: bench, serve, endpoint": f.cpuPerJob.map((us) => Math.round(us)).join(", "),
});

export const serve: BenchCase = {
  name: "serve",
  workload: `8-byte jobs answered by a trivial HTTP endpoint (its own process): called directly with the multipart body serve sends, over kept-alive connections, and through glimpse-cluster serve (its own process, worker_count ${WORKER_COUNT}, embedded job server and GearmanClient in the bench process), at 1 and 16 in flight; and a module pool (worker_count ${WORKER_COUNT}) whose handler returns "ok"; at each setting the three in blocks, rotating (${SETTINGS.map((s) => `${s.rounds} × ${s.block} jobs at ${s.inFlight} in flight`).join(", ")})`,
  budgetSeconds: 180,
  async run() {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-bench-serve-"));
    const server = new JobServer({ host: "127.0.0.1", port: 0 });
    let endpoint: ChildProcess | undefined;
    let serveProcess: ChildProcess | undefined;
    let client: GearmanClient | undefined;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    try {
      const { host, port } = await server.listen();
      const started = await startChild([path.resolve(here, "../serve-endpoint.js")], /^(\d+)\n/);
      endpoint = started.child;
      const url = new URL(`http://127.0.0.1:${started.match[1]}/job.php`);
      const file = path.join(dir, "jobs.json");
      writeFileSync(
        file,
        JSON.stringify({
          gearman_servers_list: [`${host}:${port}`],
          pools_list: {
            Http: { job_processing_uri: url.href, worker_count: WORKER_COUNT, jobs_list: ["bench_http"] },
            Module: {
              job_processing_module: `${path.resolve(here, "../serve-task.js")}#ok`,
              worker_count: WORKER_COUNT,
              jobs_list: ["bench_module"],
            },
          },
        }),
      );
      serveProcess = (
        await startChild(
          [
            ...(process.env.BENCH_SERVE_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
            CLI,
            "serve",
            "--jobsconfig",
            file,
            "--max_running_time",
            "60",
          ],
          /^glimpse-cluster serve: 2 pool/m,
        )
      ).child;
      client = new GearmanClient({ servers: `${host}:${port}`, open: () => server.connectInProcess() });
      const lean = new EndpointClient(url.href, 16);
      const pids = [process.pid, serveProcess.pid!, endpoint.pid!];
      const payload = Buffer.alloc(8, 0x61);
      const boundary = "------------------------glimpsebench0123456789";
      const body = multipartBody({ func: "bench_http", handle: "H:bench:1", unique: "", workload: payload }, boundary);
      const rows: Row[] = [];
      const figures = new Map<string, Figures>();
      for (const setting of SETTINGS) {
        const { inFlight } = setting;
        const contentType = `multipart/form-data; boundary=${boundary}`;
        const [direct, ceiling, through, module] = await rotate(
          setting,
          [
            () => directPost(url, agent, body, contentType),
            () => lean.post(contentType, body, new JobAbort()),
            () => client!.submitJob("bench_http", payload).result,
            () => client!.submitJob("bench_module", payload).result,
          ],
          pids,
        );
        figures
          .set(`direct ${inFlight}`, direct)
          .set(`ceiling ${inFlight}`, ceiling)
          .set(`serve ${inFlight}`, through)
          .set(`module ${inFlight}`, module);
        rows.push(
          row("endpoint called directly (Node http client)", inFlight, direct),
          row("endpoint called directly (serve's HTTP client)", inFlight, ceiling),
          row("through serve (HTTP executor)", inFlight, through),
          row("through serve (module executor)", inFlight, module),
        );
      }
      lean.close();
      const at16 = figures.get("serve 16")!.jobsPerSecond / figures.get("direct 16")!.jobsPerSecond;
      const added = figures.get("serve 1")!.latency.percentile(50) - figures.get("direct 1")!.latency.percentile(50);
      return {
        rows,
        ratios: [
          ratio("serve / endpoint jobs/s at 16 in flight (worker_count 8)", at16, {
            text: "≥ 0.8",
            met: (v) => v >= 0.8,
          }),
          ratio("p50 added by serve at 1 in flight, ms", added, { text: "≤ 0.4", met: (v) => v <= 0.4 }),
          ratio(
            "module executor / endpoint called directly, jobs/s at 16 in flight",
            figures.get("module 16")!.jobsPerSecond / figures.get("direct 16")!.jobsPerSecond,
          ),
          ratio(
            "serve / endpoint called with serve's own HTTP client (the endpoint's ceiling here), jobs/s at 16 in flight",
            figures.get("serve 16")!.jobsPerSecond / figures.get("ceiling 16")!.jobsPerSecond,
          ),
          ratio(
            "Node http client / serve's HTTP client, jobs/s at 16 in flight, both calling the endpoint directly",
            figures.get("direct 16")!.jobsPerSecond / figures.get("ceiling 16")!.jobsPerSecond,
          ),
        ],
        notes: [
          `${os.availableParallelism()} cores shared by the endpoint, serve, the job server and the clients; the direct client and the job server's client run in the same bench process one after the other`,
          "through serve, a job goes client → job server → serve → endpoint → serve → job server → client: three more hops than the direct call",
          "the goal's direct client is Node's http client, as since the goal was set; its own CPU per request limits the direct figure at 16 in flight (the bench process near a whole core). Called with serve's own HTTP client the same endpoint does several times more: that is its ceiling on this machine, and through serve a job costs that call plus a Gearman round trip (client, job server, worker) on the same 2 cores",
        ],
      };
    } finally {
      await client?.close();
      agent.destroy();
      await stop(serveProcess);
      await stop(endpoint);
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
