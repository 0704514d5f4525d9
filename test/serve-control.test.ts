/**
 * Running serve, from outside: the status port (threads idle and busy, pools,
 * version, an unknown command, GET /metrics), the Prometheus series, reload
 * with jobs in flight, and the command: --daemonize, --user (as root),
 * --logconfig, and SIGTERM with a running job.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { missingPeer } from "./support/peers.js";
import { makeCertificates } from "./support/certificates.js";
import { GearmanClient, AdminClient, JobError } from "../lib/gearman/index.js";
import { StatusPort, MetricsExporter } from "../lib/serve/index.js";
import { jobServerKinds, CLI_PATH, type RunningJobServer } from "./support/job-servers.js";
import { TestEndpoint, ok } from "./support/serve-endpoint.js";
import { startServe, statusCommand, type ServeHarness } from "./support/serve-harness.js";
import { eventually, startLineProcess } from "./support/gearman.js";

const TASKS = fileURLToPath(new URL("./fixtures/serve-tasks.js", import.meta.url));
const THROWS = fileURLToPath(new URL("./fixtures/serve-throws.js", import.meta.url));

const answerOrHold = () =>
  new TestEndpoint((job) =>
    job.fields.workload.toString().startsWith("hold") ? "hold" : ok(`done:${job.fields.workload.toString()}`),
  );

/** `id FLAG nobody`: nobody's uid (-u) or gid (-g). */
const idOf = (flag: "-u" | "-g") => Number(execFileSync("id", [flag, "nobody"], { encoding: "utf8" }).trim());

/** Why the --user test cannot run here, or false. */
function userSkip(): string | false {
  if (process.getuid?.() !== 0) return "needs root: --user switches users only when serve starts as root";
  try {
    idOf("-u");
  } catch {
    return "no user nobody on this machine";
  }
  return false;
}

const get = (port: number, target: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: target }, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });

for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`serve control on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    let endpoint: TestEndpoint;
    let client: GearmanClient;

    before(async () => {
      server = await kind.start({ jobRetries: 1 });
      endpoint = await answerOrHold().listen();
      client = new GearmanClient({ servers: server.url });
    });
    after(async () => {
      await client?.close();
      await endpoint?.close();
      await server?.stop();
    });

    describe("status port and metrics", () => {
      let harness: ServeHarness;
      let status: StatusPort;
      let exporter: MetricsExporter;
      let statusPort: number;
      let exporterPort: number;
      before(async () => {
        harness = await startServe({
          gearman_servers_list: [server.url],
          pools_list: {
            Shop: { job_processing_uri: endpoint.url, worker_count: 2, jobs_list: ["shop_stats", "shop_other"] },
          },
        });
        status = new StatusPort(harness.serve, { host: "127.0.0.1", port: 0, version: "9.9.9" });
        statusPort = (await status.listen()).port;
        exporter = new MetricsExporter(harness.serve.metrics);
        exporterPort = (await exporter.listen("127.0.0.1", 0)).port;
      });
      after(async () => {
        await status?.close();
        await exporter?.close();
        await harness?.close();
      });

      it("answers threads with one Waiting for work line per idle slot, then closes", async () => {
        const lines = (await statusCommand(statusPort, "threads\r\n")).split("\r\n");
        assert.equal(lines.pop(), "");
        assert.equal(lines.length, 2);
        for (const line of lines) assert.match(line, /^\d+\tShop\t0\tWaiting for work$/);
      });

      it("shows a busy slot's job handle and unique, and counts it in pools and driveshaft_threads", async () => {
        const before = endpoint.held.length;
        const job = client.submitJob("shop_stats", "hold-status", { unique: "uniq-7" });
        const [held] = (await endpoint.waitHeld(before + 1)).slice(before);
        const threads = await statusCommand(statusPort, "threads\n");
        assert.match(
          threads,
          new RegExp(
            `^\\d+\\tShop\\t0\\tjob_handle=${job.handle!.replace(/[.:]/g, "\\$&")} job_unique=uniq-7\\r$`,
            "m",
          ),
        );
        assert.match(threads, /^\d+\tShop\t0\tWaiting for work\r$/m);
        assert.match(
          await statusCommand(statusPort, "pools\n"),
          /^Shop\tslots=2\tbusy=1\tdone=\d+\tfailed=0\ttimed_out=0\tretiring=0\tat_endpoint=\d+\.\d\d\r\n$/,
        );
        const metrics = (await get(exporterPort, "/metrics")).body;
        assert.match(metrics, /^driveshaft_threads\{pool="Shop",status="idle"\} 1$/m);
        assert.match(metrics, /^driveshaft_threads\{pool="Shop",function="shop_stats",status="working"\} 1$/m);
        assert.match(metrics, /^driveshaft_threads\{pool="Shop",function="shop_other",status="working"\} 0$/m);
        held.reply(ok("released"));
        assert.equal((await job.result).toString(), "released");
      });

      it("counts the requests at the endpoint over time: in pools (average) and in the metrics (request-seconds, average)", async () => {
        const series = async () => {
          const before = performance.now();
          const body = (await get(exporterPort, "/metrics")).body;
          const after = performance.now();
          const value = (name: string) => Number(new RegExp(`^${name}\\{pool="Shop"\\} (\\S+)$`, "m").exec(body)?.[1]);
          return {
            before,
            after,
            seconds: value("glimpse_serve_endpoint_request_seconds_total"),
            average: value("glimpse_serve_endpoint_occupancy"),
          };
        };
        const heldBefore = endpoint.held.length;
        const jobs = [client.submitJob("shop_stats", "hold-a"), client.submitJob("shop_stats", "hold-b")];
        const held = (await endpoint.waitHeld(heldBefore + 2)).slice(heldBefore);
        const first = await series();
        const line = await statusCommand(statusPort, "pools\n");
        const second = await series();
        // Both slots' requests at the endpoint all the while: two request-seconds a second, to the scrapes' bounds.
        const grown = second.seconds - first.seconds;
        assert.ok(grown >= (2 * (second.before - first.after)) / 1000 - 1e-6, `${grown} request-seconds`);
        assert.ok(grown <= (2 * (second.after - first.before)) / 1000 + 1e-6, `${grown} request-seconds`);
        const average = Number(/\tat_endpoint=(\d+\.\d\d)\r\n$/.exec(line)?.[1]);
        assert.ok(average > 0 && average <= 2, line);
        assert.ok(second.average > 0 && second.average <= 2, String(second.average));
        for (const request of held) request.reply(ok("released"));
        for (const job of jobs) assert.equal((await job.result).toString(), "released");
        const idle = await series();
        const later = await series();
        assert.equal(later.seconds, idle.seconds, "nothing at the endpoint: the count stands still");
      });

      it("exports Driveshaft's series and ours after jobs, on the exporter and on the status port", async () => {
        await client.submitJob("shop_other", "x").result;
        endpoint.setAnswer(() => ({ status: 503, body: "busy" }));
        await assert.rejects(client.submitJob("shop_other", "y").result, JobError);
        endpoint.setAnswer((job) =>
          job.fields.workload.toString().startsWith("hold") ? "hold" : ok(`done:${job.fields.workload.toString()}`),
        );
        for (const body of [
          (await get(exporterPort, "/metrics")).body,
          (await statusCommand(statusPort, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"))
            .split("\r\n\r\n")
            .slice(1)
            .join("\r\n\r\n"),
        ]) {
          assert.match(body, /^driveshaft_job_duration_count\{pool="Shop",function="shop_other"\} 1$/m);
          assert.match(body, /^driveshaft_job_duration_bucket\{le="0\.01",pool="Shop",function="shop_other"\} \d+$/m);
          assert.match(body, /^driveshaft_http_errors\{pool="Shop",function="shop_other",http_status="503"\} 1$/m);
          assert.match(body, /^driveshaft_errors\{pool="Shop",function="shop_other"\} 1$/m);
          assert.match(body, /^# TYPE driveshaft_timeouts counter$/m);
          assert.match(body, /^driveshaft_threads\{pool="Shop",status="idle"\} 2$/m);
          assert.match(body, /^glimpse_serve_jobs_total\{pool="Shop",function="shop_other",outcome="complete"\} 1$/m);
          assert.match(body, /^glimpse_serve_jobs_total\{pool="Shop",function="shop_other",outcome="bad_reply"\} 1$/m);
          assert.match(body, /^glimpse_serve_slots\{pool="Shop",state="busy"\} 0$/m);
          assert.match(body, /^glimpse_serve_endpoint_seconds_count\{pool="Shop"\} \d+$/m);
          assert.match(body, /^# TYPE glimpse_serve_endpoint_request_seconds_total counter$/m);
          assert.match(body, /^glimpse_serve_endpoint_occupancy\{pool="Shop"\} [\d.e-]+$/m);
        }
        assert.equal((await get(exporterPort, "/other")).status, 404);
      });

      it("answers version, and Error: unrecognized command to anything else", async () => {
        assert.equal(await statusCommand(statusPort, "version\n"), "glimpse-cluster 9.9.9\r\n");
        assert.equal(await statusCommand(statusPort, "counters\n"), "Error: unrecognized command\r\n");
        assert.equal(await statusCommand(statusPort, "\u0000\u00ff garbage"), "Error: unrecognized command\r\n");
        assert.equal(await statusCommand(statusPort, "x".repeat(10_000)), "Error: unrecognized command\r\n");
      });
    });

    describe("reload", () => {
      it("adds, removes, resizes and changes functions with jobs in flight; untouched pools lose and wait for nothing; an invalid file changes nothing", async () => {
        const pools = (extra: Record<string, unknown>) => ({ gearman_servers_list: [server.url], pools_list: extra });
        const keep = { job_processing_uri: endpoint.url, worker_count: 2, jobs_list: ["keep"] };
        const harness = await startServe(
          pools({
            Keep: keep,
            Gone: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["gone"] },
            Resize: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["resize"] },
            Funcs: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["f_old", "f_both"] },
          }),
        );
        const admin = new AdminClient(server.url);
        try {
          const heldBefore = endpoint.held.length;
          const keepHeld = client.submitJob("keep", "hold-keep");
          const goneHeld = client.submitJob("gone", "hold-gone");
          await endpoint.waitHeld(heldBefore + 2);
          let stream = 0;
          const streamed: Promise<Buffer>[] = [];
          let streaming = true;
          const pump = (async () => {
            while (streaming) {
              const job = client.submitJob("keep", `s${stream++}`);
              streamed.push(job.result);
              await job.result;
            }
          })();

          harness.write(
            pools({
              Keep: keep,
              Resize: { job_processing_uri: endpoint.url, worker_count: 2, jobs_list: ["resize"] },
              Funcs: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["f_both", "f_new"] },
              Added: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["added"] },
            }),
          );
          await eventually(() => harness.serve.summaries().some((p) => p.pool === "Added"), 10_000, "the reload");
          const gone = harness.serve.summaries().find((p) => p.pool === "Gone");
          assert.equal(gone?.retiring, true);
          assert.ok(
            harness.serve
              .slots()
              .find((p) => p.pool === "Gone")!
              .slots.every((slot) => slot.removing),
          );

          assert.equal((await client.submitJob("added", "a").result).toString(), "done:a");
          assert.equal((await client.submitJob("f_new", "n").result).toString(), "done:n");
          assert.equal((await client.submitJob("f_both", "b").result).toString(), "done:b");
          await eventually(
            async () =>
              (await admin.status()).find((f) => f.func === "f_old")?.workers === 0 ||
              !(await admin.status()).some((f) => f.func === "f_old"),
            10_000,
            "f_old unregistered",
          );
          assert.equal((await admin.status()).find((f) => f.func === "f_both")?.workers, 1);

          const heldNow = endpoint.held.length;
          const resized = [client.submitJob("resize", "hold-r1"), client.submitJob("resize", "hold-r2")];
          const both = (await endpoint.waitHeld(heldNow + 2)).slice(heldNow);
          for (const held of both) held.reply(ok("resized"));
          for (const job of resized) assert.equal((await job.result).toString(), "resized");

          harness.write("{ not json");
          await eventually(
            () => harness.log.some((line) => line.includes("is not JSON") && line.includes("the running config stays")),
            10_000,
            "the invalid file logged",
          );
          assert.ok(harness.serve.summaries().some((p) => p.pool === "Added"));
          assert.equal((await client.submitJob("added", "still").result).toString(), "done:still");

          // Each slot grabs on its own connection, so the two held requests may have come in either order.
          const heldByWorkload = (workload: string) =>
            endpoint.held.slice(heldBefore, heldBefore + 2).find((h) => h.job.fields.workload.toString() === workload)!;
          const [keepRequest, goneRequest] = [heldByWorkload("hold-keep"), heldByWorkload("hold-gone")];
          keepRequest.reply(ok("kept"));
          goneRequest.reply(ok("finished after removal"));
          assert.equal((await keepHeld.result).toString(), "kept");
          assert.equal((await goneHeld.result).toString(), "finished after removal");
          await eventually(
            () => !harness.serve.summaries().some((p) => p.pool === "Gone"),
            10_000,
            "the removed pool gone",
          );
          streaming = false;
          await pump;
          const results = await Promise.all(streamed);
          assert.ok(results.length > 0);
          results.forEach((result, i) => assert.equal(result.toString(), `done:s${i}`));
          assert.ok(
            !harness.log.some((line) => line.includes("pool=Keep") && line.includes("failed")),
            harness.log.join("\n"),
          );
        } finally {
          if (process.env.SERVE_DEBUG) process.stderr.write(harness.log.join("\n") + "\n");
          await admin.close();
          await harness.close();
        }
      });
      it("keeps a module pool serving when a reload names a module that is missing, exports no function or throws on import, and logs why", async () => {
        const jobs = (module: string) => ({
          gearman_servers_list: [server.url],
          pools_list: { Mod: { job_processing_module: module, worker_count: 1, jobs_list: ["mod_upper"] } },
        });
        const harness = await startServe(jobs(`${TASKS}#upper`));
        try {
          assert.equal((await client.submitJob("mod_upper", "a").result).toString(), "mod_upper:A:");
          const bad: [string, RegExp][] = [
            ["./missing.js#upper", /missing\.js: no such file/],
            [`${TASKS}#limit`, /exports no function called limit \(got number\)/],
            [`${THROWS}#never`, /cannot be imported: Error: this module refuses to load/],
          ];
          for (const [module, problem] of bad) {
            harness.write(jobs(module));
            const error = await harness.serve.reload();
            assert.match(String(error?.message), problem);
            const logged = new RegExp(
              `^error jobsconfig ${harness.file}: pool "Mod" key "job_processing_module": .*${problem.source}.*; the running config stays$`,
              "m",
            );
            await eventually(() => logged.test(harness.log.join("\n")), 10_000, `the log line for ${module}`);
            assert.equal((await client.submitJob("mod_upper", "b").result).toString(), "mod_upper:B:", module);
          }
          harness.write(jobs(`${TASKS}#bytes`));
          assert.equal(await harness.serve.reload(), undefined);
          assert.equal((await client.submitJob("mod_upper", "abc").result).toString(), "cba");
        } finally {
          await harness.close();
        }
      });
    });

    describe("slots", () => {
      it("takes a pool's jobs on one connection per job server, registered once, up to worker_count at once; shrunk while every slot is busy, the removed slots finish their jobs and the pool then runs one job at a time", async () => {
        const config = (count: number) => ({
          gearman_servers_list: [server.url],
          pools_list: {
            Slots: { job_processing_uri: endpoint.url, worker_count: count, jobs_list: ["slot_a", "slot_b"] },
          },
        });
        const harness = await startServe(config(3));
        const admin = new AdminClient(server.url);
        const slots = () => harness.serve.slots().find((p) => p.pool === "Slots")!.slots;
        const poolWorkers = async () => (await admin.workers()).filter((w) => w.clientId.startsWith("serve:Slots"));
        try {
          await eventually(
            async () => (await poolWorkers()).some((w) => w.functions.length === 2),
            10_000,
            "the pool's connection registered",
          );
          const workers = await poolWorkers();
          assert.deepEqual(
            workers.map((w) => w.clientId),
            ["serve:Slots"],
            "one connection for the pool's 3 slots",
          );
          assert.deepEqual([...workers[0].functions].sort(), ["slot_a", "slot_b"]);

          const heldBefore = endpoint.held.length;
          const jobs = [1, 2, 3, 4].map((i) => client.submitJob("slot_a", `hold-slot${i}`));
          const held = (await endpoint.waitHeld(heldBefore + 3)).slice(heldBefore);
          assert.deepEqual(
            slots().map((slot) => slot.job?.func),
            ["slot_a", "slot_a", "slot_a"],
            "every slot busy",
          );
          harness.write(config(1));
          await eventually(
            () => slots().filter((slot) => slot.removing).length === 2,
            10_000,
            "2 busy slots flagged for removal",
          );
          assert.equal(slots().length, 3);
          for (const h of held) h.reply(ok(`done:${h.job.fields.workload.toString()}`));
          assert.deepEqual((await Promise.all(jobs.slice(0, 3).map((job) => job.result))).map(String), [
            "done:hold-slot1",
            "done:hold-slot2",
            "done:hold-slot3",
          ]);
          // The fourth job waited at the job server; with one slot left it runs alone.
          const [fourth] = (await endpoint.waitHeld(heldBefore + 4)).slice(heldBefore + 3);
          await eventually(() => slots().length === 1, 10_000, "the removed slots gone");
          const fifth = client.submitJob("slot_b", "hold-slot5");
          await eventually(
            async () => (await admin.status()).find((f) => f.func === "slot_b")?.total === 1,
            10_000,
            "the fifth job at the job server",
          );
          assert.equal(slots().filter((slot) => slot.job).length, 1);
          assert.equal(endpoint.held.length, heldBefore + 4, "one slot: the fifth job waits while the fourth runs");
          fourth.reply(ok("done:hold-slot4"));
          assert.equal((await jobs[3].result).toString(), "done:hold-slot4");
          (await endpoint.waitHeld(heldBefore + 5))[heldBefore + 4].reply(ok("done:after"));
          assert.equal((await fifth.result).toString(), "done:after");
          assert.ok(
            !harness.log.some((line) => line.includes("pool=Slots") && line.includes(" lost ")),
            "a shrink loses no connection:\n" + harness.log.join("\n"),
          );
          assert.equal((await poolWorkers()).length, 1);
        } finally {
          await admin.close();
          await harness.close();
        }
      });

      it("down to 0 slots with a job running, the job ends with its result and then the pool's functions are unregistered; back to 1 slot they are registered again", async () => {
        const config = (count: number) => ({
          gearman_servers_list: [server.url],
          pools_list: { Zero: { job_processing_uri: endpoint.url, worker_count: count, jobs_list: ["zero_job"] } },
        });
        const harness = await startServe(config(2));
        const admin = new AdminClient(server.url);
        const functions = async () => (await admin.workers()).find((w) => w.clientId === "serve:Zero")?.functions ?? [];
        try {
          await eventually(async () => (await functions()).includes("zero_job"), 10_000, "zero_job registered");
          const heldBefore = endpoint.held.length;
          const job = client.submitJob("zero_job", "hold-zero");
          const [held] = (await endpoint.waitHeld(heldBefore + 1)).slice(heldBefore);
          harness.write(config(0));
          await eventually(
            () =>
              harness.serve
                .slots()
                .find((p) => p.pool === "Zero")!
                .slots.every((slot) => slot.removing),
            10_000,
            "the busy slot flagged",
          );
          assert.deepEqual(await functions(), ["zero_job"], "still registered while its job runs");
          held.reply(ok("done:zero"));
          assert.equal((await job.result).toString(), "done:zero");
          await eventually(async () => (await functions()).length === 0, 10_000, "unregistered once the job ended");
          harness.write(config(1));
          await eventually(async () => (await functions()).includes("zero_job"), 10_000, "registered again");
          const again = client.submitJob("zero_job", "hold-again");
          (await endpoint.waitHeld(heldBefore + 2))[heldBefore + 1].reply(ok("done:again"));
          assert.equal((await again.result).toString(), "done:again");
        } finally {
          await admin.close();
          await harness.close();
        }
      });
    });

    describe("the serve command", () => {
      it("with --daemonize returns once the detached copy serves; it logs where --logconfig's FileAppender says and stops on SIGTERM", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-daemon-"));
        let pid: number | undefined;
        try {
          const file = path.join(dir, "jobs.json");
          const pidFile = path.join(dir, "serve.pid");
          const logFile = path.join(dir, "serve.log");
          const logConfig = path.join(dir, "log.xml");
          writeFileSync(
            file,
            JSON.stringify({
              gearman_servers_list: [server.url],
              pools_list: { Daemon: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["daemon_job"] } },
            }),
          );
          writeFileSync(
            logConfig,
            `<?xml version="1.0"?>\n<log4j:configuration xmlns:log4j="http://jakarta.apache.org/log4j/">\n<appender name="F" class="org.apache.log4j.FileAppender"><param name="File" value="serve.log"/><layout class="org.apache.log4j.PatternLayout"/></appender>\n<root><priority value="info"/><appender-ref ref="F"/></root>\n</log4j:configuration>\n`,
          );
          const run = startLineProcess(process.execPath, [
            CLI_PATH,
            "serve",
            "--jobsconfig",
            path.relative(process.cwd(), file),
            "--daemonize",
            "--pid-file",
            pidFile,
            "--logconfig",
            logConfig,
          ]);
          const line = await run.waitFor(/^glimpse-cluster serve: 1 pool\(s\) from .* \(pid \d+\)$/);
          pid = Number(/\(pid (\d+)\)$/.exec(line)![1]);
          assert.equal(
            await new Promise((resolve) =>
              run.child.exitCode !== null ? resolve(run.child.exitCode) : run.child.once("exit", resolve),
            ),
            0,
          );
          assert.equal(readFileSync(pidFile, "utf8").trim(), String(pid));
          assert.equal((await client.submitJob("daemon_job", "d").result).toString(), "done:d");
          // The daemon opens and writes its log file asynchronously: wait for the line rather than read once.
          const logged = () =>
            existsSync(logFile) && /INFO serving 1 pool\(s\) from /.test(readFileSync(logFile, "utf8"));
          await eventually(logged, 10_000, "the daemon's log line in the FileAppender's file");
          process.kill(pid, "SIGTERM");
          await eventually(() => !existsSync(pidFile), 10_000, "the daemon's pid file removed");
          pid = undefined;
        } finally {
          if (pid !== undefined) process.kill(pid, "SIGKILL");
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it(
        "with --user nobody, started as root, runs as nobody after binding its status port and writing its pid file, and serves; a jobsconfig directory nobody may not read is only not watched",
        { skip: userSkip() },
        async () => {
          const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-user-"));
          try {
            // The file is read before the switch; watching its directory (mode 0700, root's) starts after it.
            chmodSync(dir, 0o700);
            const file = path.join(dir, "jobs.json");
            writeFileSync(
              file,
              JSON.stringify({
                gearman_servers_list: [server.url],
                pools_list: { User: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["user_job"] } },
              }),
            );
            const pidFile = path.join(dir, "serve.pid");
            const serve = startLineProcess(process.execPath, [
              CLI_PATH,
              "serve",
              "--jobsconfig",
              file,
              "--user",
              "nobody",
              "--status_port",
              "0",
              "--pid_file",
              pidFile,
            ]);
            try {
              const line = await serve.waitFor(
                /^glimpse-cluster serve: 1 pool\(s\) from .*, status port 127\.0\.0\.1:\d+$/,
              );
              await serve.waitFor(
                /WARN cannot watch .*glimpse-serve-user-.* for changes to jobs\.json: EACCES.*; it is read again on SIGHUP only$/,
              );
              const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(
                readFileSync(`/proc/${serve.child.pid}/status`, "utf8"),
              );
              const gids = /^Gid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(
                readFileSync(`/proc/${serve.child.pid}/status`, "utf8"),
              );
              const nobody = { uid: idOf("-u"), gid: idOf("-g") };
              assert.deepEqual(
                uids?.slice(1).map(Number),
                [nobody.uid, nobody.uid, nobody.uid, nobody.uid],
                "real, effective, saved and filesystem uid are nobody's",
              );
              assert.deepEqual(gids?.slice(1).map(Number), [nobody.gid, nobody.gid, nobody.gid, nobody.gid]);
              assert.equal((await client.submitJob("user_job", "u").result).toString(), "done:u");
              const statusPort = Number(/status port 127\.0\.0\.1:(\d+)$/.exec(line)![1]);
              assert.match(await statusCommand(statusPort, "threads\n"), /^\d+\tUser\t0\tWaiting for work\r\n$/);
              // Written as root before the switch (the directory is root's); nobody may not remove it.
              assert.equal(readFileSync(pidFile, "utf8"), `${serve.child.pid}\n`);
              // "close": its output is all read by then.
              const closed = new Promise<number | null>((resolve) =>
                serve.child.once("close", (code) => resolve(code)),
              );
              serve.child.kill("SIGTERM");
              assert.equal(await closed, 0);
              assert.ok(
                serve.lines.some((l) => /WARN --pid_file .*serve\.pid is left in place: EACCES/.test(l)),
                serve.lines.join("\n"),
              );
            } finally {
              await serve.kill("SIGKILL");
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      );

      it(
        "POSTs to an https endpoint whose certificate it trusts (NODE_EXTRA_CA_CERTS), over one kept connection; an untrusted one fails the job naming the certificate error",
        { skip: missingPeer("openssl") },
        async () => {
          const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-https-"));
          const at = (name: string) => path.join(dir, name);
          const certificates = makeCertificates(dir);
          const sockets = new Set<string>();
          const secure = https.createServer(
            { key: readFileSync(certificates.serverKey), cert: readFileSync(certificates.serverCert) },
            (req, res) => {
              sockets.add(`${req.socket.remotePort}`);
              req.resume();
              req.on("end", () =>
                res
                  .writeHead(200, { "content-type": "application/json" })
                  .end(JSON.stringify({ gearman_ret: 0, response_string: "over tls" })),
              );
            },
          );
          await new Promise<void>((resolve) => secure.listen(0, "127.0.0.1", resolve));
          const url = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/job.php`;
          try {
            const file = at("jobs.json");
            writeFileSync(
              file,
              JSON.stringify({
                gearman_servers_list: [server.url],
                pools_list: { Tls: { job_processing_uri: url, worker_count: 1, jobs_list: ["tls_job"] } },
              }),
            );
            for (const trusted of [true, false]) {
              const env = { ...process.env, NODE_EXTRA_CA_CERTS: trusted ? certificates.ca : "" };
              const serve = startLineProcess(process.execPath, [CLI_PATH, "serve", "--jobsconfig", file], { env });
              try {
                await serve.waitFor(/^glimpse-cluster serve: 1 pool/);
                if (trusted) {
                  for (let i = 0; i < 3; i++)
                    assert.equal((await client.submitJob("tls_job", `t${i}`).result).toString(), "over tls");
                  assert.equal(sockets.size, 1, "one kept connection");
                } else {
                  const job = client.submitJob("tls_job", "untrusted");
                  assert.equal(((await job.result.catch((e: unknown) => e)) as JobError).code, "JOB_FAILED");
                  await serve.waitFor(
                    new RegExp(
                      `WARN pool=Tls function=tls_job handle=${job.handle} failed: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY): `,
                    ),
                  );
                }
              } finally {
                await serve.kill("SIGKILL");
              }
            }
          } finally {
            secure.closeAllConnections();
            await new Promise<void>((resolve) => secure.close(() => resolve()));
            rmSync(dir, { recursive: true, force: true });
          }
        },
      );

      it("never fails on a --logconfig it cannot use: it warns and logs to stderr", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-logconfig-"));
        try {
          const file = path.join(dir, "jobs.json");
          writeFileSync(
            file,
            JSON.stringify({
              gearman_servers_list: [server.url],
              pools_list: { L: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["log_job"] } },
            }),
          );
          writeFileSync(path.join(dir, "bad.xml"), "this is not xml <<<");
          const serve = startLineProcess(process.execPath, [
            CLI_PATH,
            "serve",
            "--jobsconfig",
            file,
            "--logconfig",
            path.join(dir, "bad.xml"),
          ]);
          try {
            await serve.waitFor(/WARN --logconfig .*bad\.xml: not a log4cxx XML configuration/);
            await serve.waitFor(/^glimpse-cluster serve: 1 pool/);
            assert.equal((await client.submitJob("log_job", "l").result).toString(), "done:l");
          } finally {
            await serve.kill("SIGKILL");
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it("on SIGTERM takes no new jobs, lets the running one finish, removes its pid file and exits 0; a second signal fails the job at once", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-cli-"));
        try {
          const file = path.join(dir, "jobs.json");
          const pidFile = path.join(dir, "serve.pid");
          writeFileSync(
            file,
            JSON.stringify({
              gearman_servers_list: [server.url],
              pools_list: { Term: { job_processing_uri: endpoint.url, worker_count: 1, jobs_list: ["term"] } },
            }),
          );
          for (const second of [false, true]) {
            const serve = startLineProcess(process.execPath, [
              CLI_PATH,
              "serve",
              "--jobsconfig",
              file,
              "--max-running-time",
              "60",
              "--pid_file",
              pidFile,
              "--status_port",
              "0",
            ]);
            try {
              await serve.waitFor(/^glimpse-cluster serve: 1 pool\(s\) from .*, status port 127\.0\.0\.1:\d+$/);
              assert.ok(existsSync(pidFile));
              const heldBefore = endpoint.held.length;
              const job = client.submitJob("term", "hold-term");
              const [held] = (await endpoint.waitHeld(heldBefore + 1)).slice(heldBefore);
              const exited = new Promise<number | null>((resolve) => serve.child.once("exit", (code) => resolve(code)));
              serve.child.kill("SIGTERM");
              await serve.waitFor(/SIGTERM: taking no new jobs/);
              if (second) {
                serve.child.kill("SIGTERM");
                assert.equal(((await job.result.catch((e: unknown) => e)) as JobError).code, "JOB_FAILED");
                await held.job.aborted;
              } else {
                held.reply(ok("finished while stopping"));
                assert.equal((await job.result).toString(), "finished while stopping");
              }
              assert.equal(await exited, 0);
              assert.ok(!existsSync(pidFile), "the pid file is removed");
            } finally {
              await serve.kill("SIGKILL");
            }
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  });
}
