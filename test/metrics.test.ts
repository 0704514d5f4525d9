/**
 * Prometheus metrics: the job server's (in this process, and through the
 * CLI's --metrics-port) and a worker node's (launch-worker --metrics-port,
 * served by its supervisor across a restart). Every exposition is read with
 * a real Prometheus text parser and its figures checked against what the
 * test did.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { JobServer, jobServerMetrics, serveJobServerMetrics } from "../lib/server/index.js";
import { GearmanClient, GearmanWorker, AdminClient } from "../lib/gearman/index.js";
import { serveMetrics, type MetricsEndpoint } from "../lib/metrics/metrics-endpoint.js";
import { ClusterControl } from "../lib/control/cluster-control.js";
import { controlOptions } from "../lib/config/channel-options.js";
import { loadConfig } from "../lib/config/index.js";
import { scrape, sampleValue } from "./support/prometheus.js";
import { TestCluster } from "./support/cluster.js";
import { CLI_PATH, embedded } from "./support/job-servers.js";
import { eventually } from "./support/gearman.js";

describe("job server metrics", () => {
  it("count the jobs the test submitted, completed and failed, by function, priority and background", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-metrics-"));
    const server = new JobServer({ port: 0, queueFile: path.join(dir, "journal") });
    const { port } = await server.listen();
    const url = `127.0.0.1:${port}`;
    const endpoint = await serveMetrics(jobServerMetrics(server), { port: 0 });
    let threaded: MetricsEndpoint | undefined;
    const client = new GearmanClient({ servers: url });
    const worker = new GearmanWorker({ servers: url, concurrency: 2 });
    try {
      assert.equal(endpoint.host, "127.0.0.1");
      worker
        .register("ok", (job) => job.data)
        .register("bad", () => {
          throw new Error("no");
        })
        .start();
      for (let i = 0; i < 5; i++) await client.submitJob("ok", `n${i}`).result;
      await client.submitJob("ok", "high", { priority: "high" }).result;
      for (let i = 0; i < 3; i++) await assert.rejects(client.submitJob("bad", `b${i}`).result);
      await client.submitBackground("idle", "x", { priority: "low" });
      await client.submitBackground("idle", "y", { priority: "low" });
      const { families, contentType } = await scrape(endpoint.url);
      assert.match(contentType, /^text\/plain; version=0\.0\.4/);
      const value = (name: string, labels: Record<string, string> = {}) => sampleValue(families, name, labels);
      assert.equal(families.get("glimpse_jobserver_jobs_submitted_total")?.type, "COUNTER");
      assert.equal(
        value("glimpse_jobserver_jobs_submitted_total", { function: "ok", priority: "normal", background: "false" }),
        5,
      );
      assert.equal(
        value("glimpse_jobserver_jobs_submitted_total", { function: "ok", priority: "high", background: "false" }),
        1,
      );
      assert.equal(
        value("glimpse_jobserver_jobs_submitted_total", { function: "idle", priority: "low", background: "true" }),
        2,
      );
      assert.equal(
        value("glimpse_jobserver_jobs_submitted_total", { function: "bad", priority: "normal", background: "false" }),
        3,
      );
      assert.equal(value("glimpse_jobserver_jobs_completed_total", { function: "ok" }), 6);
      assert.equal(value("glimpse_jobserver_jobs_completed_total", { function: "bad" }), 0);
      // The worker answers a throwing handler with WORK_EXCEPTION.
      assert.equal(value("glimpse_jobserver_jobs_failed_total", { function: "bad", reason: "exception" }), 3);
      assert.equal(value("glimpse_jobserver_jobs_failed_total", { function: "bad", reason: "fail" }), 0);
      assert.equal(value("glimpse_jobserver_jobs_queued", { function: "idle", priority: "low" }), 2);
      assert.equal(value("glimpse_jobserver_jobs_queued", { function: "ok", priority: "normal" }), 0);
      assert.equal(value("glimpse_jobserver_jobs_running", { function: "ok" }), 0);
      assert.equal(value("glimpse_jobserver_workers", { function: "ok" }), 1);
      assert.equal(value("glimpse_jobserver_workers", { function: "idle" }), 0);
      assert.equal(value("glimpse_jobserver_connections"), 2);
      assert.ok(value("glimpse_jobserver_bytes_total", { direction: "received" })! > 0);
      assert.ok(value("glimpse_jobserver_bytes_total", { direction: "sent" })! > 0);
      assert.ok(value("glimpse_jobserver_journal_bytes")! > 0, "the two background jobs are in the journal");

      const admin = new AdminClient(url);
      const [handle] = (await admin.showJobs()).map((job) => job.handle);
      await admin.cancelJob(handle);
      await admin.close();
      const after = (await scrape(endpoint.url)).families;
      assert.equal(
        sampleValue(after, "glimpse_jobserver_jobs_failed_total", { function: "idle", reason: "cancelled" }),
        1,
      );
      assert.equal(sampleValue(after, "glimpse_jobserver_jobs_queued", { function: "idle", priority: "low" }), 1);
      const received = sampleValue(after, "glimpse_jobserver_bytes_total", { direction: "received" })!;
      assert.ok(
        received > value("glimpse_jobserver_bytes_total", { direction: "received" })!,
        "the admin session's bytes are counted",
      );
      assert.equal((await fetch(endpoint.url.replace("/metrics", "/other"))).status, 404);
      // From its own thread (as job-server --metrics-port serves it), the same server's exposition is the same text.
      threaded = await serveJobServerMetrics(server, { port: 0 });
      const [fromThread, fromServer] = await Promise.all([
        fetch(threaded.url).then((r) => r.text()),
        fetch(endpoint.url).then((r) => r.text()),
      ]);
      assert.match(fromThread, /^glimpse_jobserver_journal_bytes \d+$/m);
      assert.equal(fromThread, fromServer);
    } finally {
      await Promise.all([client.close(), worker.close()]);
      await threaded?.close();
      await endpoint.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("job-server --metrics-port serves them from the CLI, on loopback", { skip: embedded.skip }, async () => {
    const child = spawn(process.execPath, [CLI_PATH, "job-server", "--port", "0", "--metrics-port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let output = "";
      const [, server, metricsUrl] = await new Promise<RegExpExecArray>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => {
          output += chunk.toString();
          const m = /listening on (\S+)\n[^]*metrics on (\S+)\n/.exec(output);
          if (m) resolve(m);
        });
        child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.once("exit", (code) => reject(new Error(`job-server exited (${code}):\n${output}`)));
      });
      assert.match(metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const client = new GearmanClient({ servers: server });
      try {
        await client.submitBackground("cli", "1");
        await client.submitBackground("cli", "2", { priority: "high" });
      } finally {
        await client.close();
      }
      const { families } = await scrape(metricsUrl);
      assert.equal(
        sampleValue(families, "glimpse_jobserver_jobs_submitted_total", {
          function: "cli",
          priority: "normal",
          background: "true",
        }),
        1,
      );
      assert.equal(sampleValue(families, "glimpse_jobserver_jobs_queued", { function: "cli", priority: "high" }), 1);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("job-server --metrics-port on a port in use says so and exits 1", { skip: embedded.skip }, async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = taken.address() as net.AddressInfo;
      const child = spawn(process.execPath, [CLI_PATH, "job-server", "--port", "0", "--metrics-port", String(port)], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((resolve) => child.once("exit", resolve));
      assert.match(stderr, new RegExp(`cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
      assert.equal(code, 1, stderr);
    } finally {
      taken.close();
    }
  });
});

describe("worker node metrics", { skip: embedded.skip }, () => {
  it("count the chunks and items of a map, and keep counting across a restart", async () => {
    const cluster = await TestCluster.start({ kind: embedded });
    try {
      const node = await cluster.startNode(2, ["--metrics-port", "0"]);
      const metricsUrl = node.output.map((line) => /metrics on (\S+)/.exec(line)?.[1]).find(Boolean);
      assert.ok(metricsUrl, `launch-worker printed its metrics URL:\n${node.output.join("\n")}`);
      const pool = await cluster.pool();
      try {
        // chunksize 4 (the test cluster's config): 40 items are 10 chunks.
        assert.deepEqual(
          await pool.map(
            (x: number) => x + 1,
            Array.from({ length: 40 }, (_, i) => i),
          ),
          Array.from({ length: 40 }, (_, i) => i + 1),
        );
        await assert.rejects(
          pool.map(
            (x: number) => {
              if (x === 2) throw new Error("two");
              return x;
            },
            [0, 1, 2, 3],
            { retries: 0 },
          ),
        );
        let { families } = await scrape(metricsUrl);
        assert.equal(sampleValue(families, "glimpse_node_chunks_total", { outcome: "done" }), 10);
        assert.equal(sampleValue(families, "glimpse_node_chunks_total", { outcome: "failed" }), 1);
        assert.equal(sampleValue(families, "glimpse_node_chunks_total", { outcome: "refused" }), 0);
        assert.equal(sampleValue(families, "glimpse_node_items_total"), 40, "items of the chunks done");
        assert.equal(sampleValue(families, "glimpse_node_threads"), 2);
        assert.equal(sampleValue(families, "glimpse_node_threads_busy"), 0);
        assert.equal(sampleValue(families, "glimpse_node_restarts_total"), 0);
        const histogram = families.get("glimpse_node_chunk_seconds")!;
        assert.equal(histogram.type, "HISTOGRAM");
        assert.equal(histogram.histograms[0].count, 11);
        assert.equal(histogram.histograms[0].buckets["+Inf"], 11);
        const info = families.get("glimpse_node_info")!.samples[0];
        assert.equal(info.value, 1);
        assert.equal(info.labels.host, os.hostname());
        assert.equal(info.labels.state, "serving");
        assert.match(info.labels.version, /^\d+\.\d+\.\d+/);

        const control = await ClusterControl.open(controlOptions(loadConfig([cluster.configFile])!.client));
        try {
          assert.equal((await control.commands.restartWorkers(10_000)).length, 1);
          // The new process registers at the job server under a new node id.
          await eventually(async () => (await control.commands.ping(2000)).some((n) => n.numRequests === 0));
        } finally {
          await control.close();
        }
        assert.deepEqual(await pool.map((x: number) => x, [1, 2, 3, 4, 5]), [1, 2, 3, 4, 5]);
        ({ families } = await scrape(metricsUrl));
        assert.equal(sampleValue(families, "glimpse_node_restarts_total"), 1);
        assert.equal(
          sampleValue(families, "glimpse_node_chunks_total", { outcome: "done" }),
          12,
          "10 before the restart, 2 after",
        );
        assert.equal(sampleValue(families, "glimpse_node_items_total"), 45);
        assert.equal(families.get("glimpse_node_chunk_seconds")!.histograms[0].count, 13);
        assert.equal(families.get("glimpse_node_info")!.samples.length, 1);
      } finally {
        await pool.close();
      }
    } finally {
      await cluster.close();
    }
  });
});
