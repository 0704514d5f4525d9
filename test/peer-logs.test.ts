/**
 * Who tells the operator what happened to a peer (docs/robustness.md "Fail
 * fast"): a worker node (launch-worker) names every job server it cannot
 * reach, with the cause, and says when it connects, loses one and
 * reconnects, one line per change; a pool with a `log` names the servers it
 * loses and reaches again and each retry with its cause; the embedded job
 * server with -v names the worker it lost and the jobs it hands out again.
 * On every job server kind where the peer is the job server.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PoolError, MakePool, type ClusterPool } from "../lib/index.js";
import { GearmanClient, GearmanWorker } from "../lib/gearman/index.js";
import { CLI_PATH, freePort, jobServerKinds, type RunningJobServer } from "./support/job-servers.js";
import { startLineProcess, type LineProcess } from "./support/gearman.js";
import { TestCluster } from "./support/cluster.js";

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

for (const kind of jobServerKinds()) {
  describe(`peers named in the logs, on ${kind.name}`, { skip: kind.skip }, () => {
    it("launch-worker with no job server names it and the cause, once; then says it connected, lost it and reconnected", async () => {
      const port = await freePort();
      const address = `127.0.0.1:${port}`;
      const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-peer-logs-"));
      const command = `tcp://127.0.0.1:${await freePort()}`;
      const log = `tcp://127.0.0.1:${await freePort()}`;
      const config = path.join(dir, "cluster.ini");
      writeFileSync(
        config,
        [
          "[client]",
          `job_server_url = ${address}`,
          `command_frontend_url = ${command}`,
          `command_backend_url = ${command}`,
          `log_frontend_url = ${log}`,
          `log_backend_url = ${log}`,
          "",
        ].join("\n"),
      );
      let node: LineProcess | undefined;
      let server: RunningJobServer | undefined;
      try {
        node = startLineProcess(process.execPath, [CLI_PATH, "-c", config, "launch-worker", "1"]);
        const at = escape(address);
        await node.waitFor(
          new RegExp(
            `^worker node \\S+: cannot reach job server ${at}: connect ECONNREFUSED \\(nothing listens there: is the job server running, on that port\\?\\); trying again every few seconds$`,
          ),
          30_000,
        );
        // It starts anyway, and keeps trying.
        await node.waitFor(/worker node .* started/, 30_000);
        server = await kind.start({ port });
        await node.waitFor(
          new RegExp(`^worker node \\S+: connected to job server ${at} after \\d+ failed attempts? over \\d+\\.\\d s$`),
          30_000,
        );
        const cannot = node.lines.filter((line) => line.includes("cannot reach job server")).length;
        assert.equal(cannot, 1, `one line for the whole outage, not one per attempt:\n${node.lines.join("\n")}`);
        await server.kill();
        await node.waitFor(new RegExp(`^worker node \\S+: lost job server ${at}: .+; reconnecting$`), 30_000);
        server = await server.restart();
        await node.waitFor(new RegExp(`^worker node \\S+: reconnected to job server ${at}( after .*)?$`), 30_000);
      } finally {
        await node?.kill();
        await server?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a pool with a log names each retry with its cause, and a job server it lost and reached again", async () => {
      const cluster = await TestCluster.start({ kind });
      const lines: string[] = [];
      let pool: ClusterPool | undefined;
      let restarted: RunningJobServer | undefined;
      try {
        await cluster.startNode(1);
        pool = await MakePool(cluster.configFile, {
          open: cluster.server.clientOptions().open,
          log: (line) => lines.push(line),
        });
        const slow = async (x: number) => {
          await new Promise((resolve) => setTimeout(resolve, 2000));
          return x;
        };
        await assert.rejects(pool.map(slow, [1], { timeout: 500, retries: 1 }), (error: unknown) => {
          assert.ok(error instanceof PoolError && error.code === "CHUNK_TIMEOUT", String(error));
          return true;
        });
        const retries = lines.filter((line) => /: a retry spent/.test(line));
        assert.equal(retries.length, 1, lines.join("\n"));
        assert.match(
          retries[0],
          /^map \S+: chunk 0 \(items 0\.\.0\): a retry spent \(of 1\): chunk 0 \(items 0\.\.0\), job \S+ on 127\.0\.0\.1:\d+, did not finish within 500 ms$/,
        );
        assert.ok(!lines.some((line) => /connected to/.test(line)), "a first connection is no news");

        restarted = await cluster.server.restart();
        const at = escape(restarted.url);
        const deadline = performance.now() + 30_000;
        while (!lines.some((line) => new RegExp(`^reconnected to job server ${at}`).test(line))) {
          if (performance.now() > deadline) assert.fail(`no reconnect line:\n${lines.join("\n")}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.ok(
          lines.some((line) => new RegExp(`^lost job server ${at}: .+; reconnecting$`).test(line)),
          lines.join("\n"),
        );
      } finally {
        await pool?.close();
        // The cluster stops the server it started; the one started in its place is this test's.
        await restarted?.stop();
        await cluster.close();
      }
    });
  });
}

describe("the embedded job server with -v", () => {
  it("names a worker that left holding jobs, and each job it hands out again", async () => {
    const port = await freePort();
    const server = startLineProcess(process.execPath, [
      CLI_PATH,
      "-v",
      "job-server",
      "--port",
      String(port),
      "--job-retries",
      "3",
    ]);
    const servers = `127.0.0.1:${port}`;
    const worker = new GearmanWorker({ servers, clientId: "held-worker" });
    const client = new GearmanClient({ servers });
    try {
      await server.waitFor(/listening on/);
      const taken = new Promise<void>((resolve) => worker.register("hold", () => (resolve(), new Promise(() => {}))));
      worker.start();
      const job = client.submitJob("hold", "x");
      job.result.catch(() => {});
      await taken;
      await worker.close();
      await server.waitFor(/^job-server: worker held-worker at 127\.0\.0\.1:\d+ left holding 1 job\(s\)$/);
      await server.waitFor(
        /^job-server: job H:\S+ \(hold\) back in its queue: worker held-worker at 127\.0\.0\.1:\d+ disconnected \(handed out again, retry 1 of 2\)$/,
      );
    } finally {
      await worker.close();
      await client.close();
      await server.kill();
    }
  });
});
