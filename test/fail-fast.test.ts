/**
 * Missing pieces fail fast and say why (docs/robustness.md "Fail fast"):
 * a map with no job server to reach rejects within seconds naming every
 * server and its connection error, on this machine and across simulated
 * hosts (a job server listening on 127.0.0.1 only, an address where no host
 * answers); a map no worker node can take says so after wait_for_nodes, on
 * every job server kind, while a node busy with other work is no reason.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { MakePool, PoolError, type ClusterPool } from "../lib/index.js";
import { AdminClient } from "../lib/gearman/admin.js";
import { TestCluster } from "./support/cluster.js";
import { GearmanClient, GearmanWorker } from "../lib/gearman/index.js";
import { JobServer } from "../lib/server/index.js";
import { freePort, jobServerKinds, CLI_PATH, type RunningJobServer } from "./support/job-servers.js";
import { missingPeer } from "./support/peers.js";
import { SimulatedNetwork } from "./support/netns.js";
import { HostClient, HostProcess } from "./support/host-cluster.js";

const HOST_CLIENT = new URL("./support/host-client.js", import.meta.url).pathname;

/** A [client] section with direct channels on free loopback ports. */
async function directChannels(): Promise<Record<string, string>> {
  const command = `tcp://127.0.0.1:${await freePort()}`;
  const log = `tcp://127.0.0.1:${await freePort()}`;
  return {
    command_frontend_url: command,
    command_backend_url: command,
    log_frontend_url: log,
    log_backend_url: log,
  };
}

describe("no job server reachable", () => {
  it("a map rejects at once with NO_JOB_SERVER naming every server and its error; the next map too", async () => {
    const [a, b] = [await freePort(), await freePort()];
    const pool = await MakePool({
      client: { job_server_url: `127.0.0.1:${a}, 127.0.0.1:${b}`, ...(await directChannels()) },
    });
    try {
      for (const map of ["first", "second"]) {
        const started = performance.now();
        await assert.rejects(
          pool.map((x: number) => x * 2, [1, 2, 3]),
          (error: unknown) => {
            assert.ok(error instanceof PoolError, String(error));
            assert.equal(error.code, "NO_JOB_SERVER");
            assert.equal(
              error.message,
              `the map cannot start: no job server reachable: 127.0.0.1:${a}, 127.0.0.1:${b}: connect ECONNREFUSED (nothing listens there: is the job server running, on that port?)`,
            );
            return true;
          },
          `the ${map} map`,
        );
        // Refused connections are known in milliseconds: far under the seconds a silent host may take.
        const ms = performance.now() - started;
        assert.ok(ms < 10_000, `the ${map} map took ${Math.round(ms)} ms to reject`);
      }
    } finally {
      await pool.close();
    }
  });
  it("a client waiting for a server tries each at once, not at the end of its reconnect backoff", async () => {
    const port = await freePort();
    // A backoff of a minute: only a try made at once can connect within the test's time.
    const client = new GearmanClient({
      servers: `127.0.0.1:${port}`,
      reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    });
    let server: JobServer | undefined;
    try {
      await assert.rejects(
        client.waitForServer("test"),
        /test: no job server reachable: 127\.0\.0\.1:\d+: connect ECONNREFUSED/,
      );
      server = new JobServer({ host: "127.0.0.1", port });
      await server.listen();
      // Far under the backoff: it fails (TimeoutError) unless the client tried at once.
      await client.waitForServer("test", AbortSignal.timeout(20_000));
      assert.deepEqual(client.connectedServers, [`127.0.0.1:${port}`]);
    } finally {
      await client.close();
      await server?.close();
    }
  });
});

describe("no job server reachable across machines (simulated hosts)", { skip: missingPeer("netns") }, () => {
  it("a job server listening on 127.0.0.1 only, and an address where no host answers: each named with its error, within seconds", async (t) => {
    const network = new SimulatedNetwork();
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-fail-fast-"));
    const processes: HostProcess[] = [];
    try {
      const js1 = network.addHost("js1");
      const clientHost = network.addHost("client");
      // As config.ini.example's first line shows it, without --host: it listens on 127.0.0.1 only.
      const server = new HostProcess(
        "job server on js1",
        js1.spawn(process.execPath, [CLI_PATH, "job-server", "--port", "4730"], { stdio: ["ignore", "pipe", "pipe"] }),
      );
      processes.push(server);
      await server.waitFor(/listening on 127\.0\.0\.1:4730/);
      const nobody = "10.213.0.99"; // on the network, but no host has it
      const config = path.join(dir, "cluster.ini");
      const command = `tcp://${clientHost.address}:9000`;
      const log = `tcp://${clientHost.address}:9001`;
      writeFileSync(
        config,
        [
          "[client]",
          `job_server_url = ${js1.address}:4730, ${nobody}:4730`,
          `command_frontend_url = ${command}`,
          `command_backend_url = ${command}`,
          `log_frontend_url = ${log}`,
          `log_backend_url = ${log}`,
          "",
        ].join("\n"),
      );
      const client = new HostProcess(
        "client",
        clientHost.spawn(process.execPath, [HOST_CLIENT, config], { stdio: ["pipe", "pipe", "pipe"] }),
      );
      processes.push(client);
      await client.waitFor(/"ready":true/);
      const map = new HostClient(client).map({ offset: 0, count: 10, chunksize: 5 });
      const started = performance.now();
      await assert.rejects(map.result, (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `^the map failed on the client: PoolError NO_JOB_SERVER the map cannot start: no job server reachable: ` +
              `(?=.*${js1.address.replaceAll(".", "\\.")}:4730: connect ECONNREFUSED \\(nothing listens there: is the job server running, and listening on an address this host can reach, not only on 127\\.0\\.0\\.1\\?\\))` +
              `(?=.*${nobody.replaceAll(".", "\\.")}:4730: connect (EHOSTUNREACH \\(no route to that host|timed out after 5000 ms \\(no answer))`,
          ),
        );
        return true;
      });
      const ms = performance.now() - started;
      t.diagnostic(`rejected after ${Math.round(ms)} ms (load ${os.loadavg()[0].toFixed(1)})`);
      // The unanswered address costs at most the connect timeout (5 s), or the ARP timeout (3 s), plus one reconnect.
      assert.ok(ms < 15_000, `the map took ${Math.round(ms)} ms to reject`);
    } finally {
      for (const p of processes) p.child.stdin?.end();
      await Promise.allSettled(processes.map((p) => p.stop()));
      network.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Polls `probe` every 50 ms until it returns true; fails after `limitMs`. */
async function until(what: string, probe: () => Promise<boolean>, limitMs = 30_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const kind of jobServerKinds()) {
  describe(`no worker node, on ${kind.name}`, { skip: kind.skip }, () => {
    it("a map no node takes rejects with NO_NODE naming glimpse_map and the job server after wait_for_nodes; a node busy with another map is no reason", async () => {
      const cluster = await TestCluster.start({ kind, clientConfig: ["wait_for_nodes = 1"] });
      let pool: ClusterPool | undefined;
      const admin = new AdminClient(cluster.server.url, { timeoutMs: 5000 });
      try {
        pool = await cluster.pool();
        const started = performance.now();
        await assert.rejects(
          pool.map((x: number) => x, [1, 2, 3]),
          (error: unknown) => {
            assert.ok(error instanceof PoolError, String(error));
            assert.equal(error.code, "NO_NODE");
            assert.equal(
              error.message,
              `no worker node has registered glimpse_map at ${cluster.server.url} within 1000 ms (wait_for_nodes, or the map's waitForNodesMs); ` +
                "no worker node is registered there at all: is one running (glimpse-cluster launch-worker), and can it reach these job servers?",
            );
            return true;
          },
        );
        const ms = performance.now() - started;
        assert.ok(ms < 20_000, `NO_NODE came after ${Math.round(ms)} ms`);

        // One thread, nothing prefetched: a long chunk holds the node, and the next map's chunks wait their turn.
        await cluster.startNode(1, ["--prefetch", "0"]);
        const slow = pool.map(
          async (x: number) => {
            await new Promise((resolve) => setTimeout(resolve, 2500));
            return x;
          },
          [7],
          { waitForNodesMs: false },
        );
        await until("the slow chunk running", async () =>
          (await admin.status()).some((f) => f.func === "glimpse_map" && f.running === 1),
        );
        // Its patience passes several times while the node is busy: the node is registered, so the map waits.
        assert.deepEqual(await pool.map((x: number) => x + 1, [1, 2], { waitForNodesMs: 200 }), [2, 3]);
        assert.deepEqual(await slow, [7]);
      } finally {
        await admin.close();
        await pool?.close();
        await cluster.close();
      }
    });
  });
}

for (const kind of jobServerKinds()) {
  describe(`items and results over max_packet_size, on ${kind.name}`, { skip: kind.skip }, () => {
    it("an item over the limit fails before it is sent, naming it and the limit; a result over it fails once, naming the chunk and the item, never retried; MakePool's maxPacketSize overrides the config", async () => {
      // The pool and the node read the same [client] key.
      const cluster = await TestCluster.start({ kind, clientConfig: ["max_packet_size = 64KiB"] });
      let pool: ClusterPool | undefined;
      let small: ClusterPool | undefined;
      try {
        await cluster.startNode(1);
        pool = await cluster.pool();
        const big = "x".repeat(100_000);
        await assert.rejects(
          pool.map((s: string) => s.length, ["a", big, "b"], { chunksize: 1 }),
          (error: unknown) => {
            assert.ok(error instanceof PoolError, String(error));
            assert.equal(error.code, "TOO_LARGE");
            assert.match(
              error.message,
              /^chunk 1 \(items 1\.\.1\) cannot be sent: item 1 alone is 100\d{3} bytes \(9\d(\.\d)? KiB\) encoded: the chunk's items are 100\d{3} bytes \(9\d(\.\d)? KiB\), over the 65536 bytes \(64 KiB\) a job server packet may carry \(max_packet_size\); raise max_packet_size/,
            );
            return true;
          },
        );

        let retries = 0;
        const started = performance.now();
        await assert.rejects(
          pool.map((n: number) => "y".repeat(n), [10, 20, 100_000, 10], {
            chunksize: 4,
            onProgress: (progress) => (retries = progress.retries),
          }),
          (error: unknown) => {
            assert.ok(error instanceof PoolError, String(error));
            assert.equal(error.code, "TOO_LARGE");
            assert.match(
              error.message,
              /^chunk 0 \(items 0\.\.3\) ran, but its results cannot come back: the result of item 2 alone is 100\d{3} bytes \(9\d(\.\d)? KiB\) encoded: the chunk's results are 100\d{3} bytes/,
            );
            return true;
          },
        );
        assert.equal(retries, 0, "a result too large spends no retry");
        assert.ok(performance.now() - started < 30_000);
        assert.deepEqual(await pool.map((n: number) => n + 1, [1, 2]), [2, 3], "the node serves the next map");

        small = await MakePool(cluster.configFile, { open: cluster.server.clientOptions().open, maxPacketSize: 2048 });
        await assert.rejects(
          small.map((s: string) => s.length, ["z".repeat(3000)]),
          /over the 2048 bytes \(2 KiB\)/,
        );
      } finally {
        await small?.close();
        await pool?.close();
        await cluster.close();
      }
    });
  });
}

for (const kind of jobServerKinds()) {
  describe(`a job server back after an outage, on ${kind.name}`, { skip: kind.skip }, () => {
    it("a worker and a client with the default reconnect settings connect within the 2 s cap (±25 %) of its return, not after an exponential backoff", async () => {
      const port = await freePort();
      const servers = `127.0.0.1:${port}`;
      const worker = new GearmanWorker({ servers });
      const client = new GearmanClient({ servers });
      let server: RunningJobServer | undefined;
      try {
        worker.register("double", (job) => String(Number(job.data.toString()) * 2)).start();
        // 7 s down: a backoff doubling from 100 ms without a cap would next try at 12.7 s, 5.7 s after the return.
        const failures = { worker: 0, client: 0 };
        worker.on("disconnect", () => failures.worker++);
        client.on("disconnect", () => failures.client++);
        await new Promise((resolve) => setTimeout(resolve, 7000));
        assert.ok(failures.worker >= 5 && failures.client >= 5, `attempts while down: ${JSON.stringify(failures)}`);
        const connected = (emitter: GearmanWorker | GearmanClient) =>
          new Promise<number>((resolve) => emitter.once("connect", () => resolve(performance.now())));
        const back = Promise.all([connected(worker), connected(client)]);
        server = await kind.start({ port });
        const up = performance.now();
        const [workerAt, clientAt] = await back;
        const waited = { worker: Math.round(workerAt - up), client: Math.round(clientAt - up) };
        // The cap is 2.5 s at most with its jitter; a second and a half more for a busy machine.
        assert.ok(waited.worker <= 4000 && waited.client <= 4000, `reconnected after ${JSON.stringify(waited)} ms`);
        assert.equal((await client.submitJob("double", "21", { timeoutMs: 30_000 }).result).toString(), "42");
      } finally {
        await client.close();
        await worker.close();
        await server?.stop();
      }
    });
  });
}
