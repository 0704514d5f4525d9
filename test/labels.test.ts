/**
 * Labels on both job servers with real worker node processes: which Gearman
 * functions a labelled and an exclusive node register (as admin `workers`
 * shows them), that a labelled map runs only on nodes with its label (by pid),
 * that an exclusive node takes no unlabelled chunk, that a map for a label no
 * node carries waits in the queue until one comes, and the waitForNodesMs
 * error. Then the checks of label names and options, without a cluster.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  ArgumentError,
  ConfigError,
  PoolError,
  loadConfig,
  type ClusterPool,
  type NodeStatsSnapshot,
} from "../lib/index.js";
import { AdminClient } from "../lib/gearman/index.js";
import { fillNodeOptions } from "../lib/node/node-options.js";
import { fillMapOptions } from "../lib/pool/map-options.js";
import { checkSelector, selects } from "../lib/control/node-selector.js";
import { formatPingTable } from "../cli/ping-table.js";
import { CLI_PATH, jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";

const execFileAsync = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI_PATH, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

const pidOf = (x: number) => [x, process.pid];
const items = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`labels on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;
    let admin: AdminClient;
    /** The nodes by role, as they answer ping. */
    const nodes: Record<"plain" | "gpu" | "bigmem", NodeStatsSnapshot> = {} as never;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      // The exclusive node takes its labels from the [server] section, the gpu node from the command line.
      const exclusiveConfig = cluster.writeConfig(
        "exclusive.ini",
        `${readFileSync(cluster.configFile, "utf8")}\n[server]\nlabels = bigmem\nexclusive = true\n`,
      );
      await Promise.all([
        cluster.startNode(1),
        cluster.startNode(1, ["--label", "gpu"]),
        cluster.startNode(1, [], exclusiveConfig),
      ]);
      pool = await cluster.pool();
      admin = new AdminClient(cluster.server.url);
      const pinged = await eventually(
        async () => {
          const now = await pool.ping(5000);
          return now.length === 3 && now;
        },
        20_000,
        "three nodes to answer ping",
      );
      for (const node of pinged)
        nodes[node.labels.includes("gpu") ? "gpu" : node.labels.includes("bigmem") ? "bigmem" : "plain"] = node;
    });

    after(async () => {
      await admin?.close();
      await pool?.close();
      await cluster?.close();
    });

    it("registers glimpse_map and glimpse_map:LABEL, only the labelled one when exclusive, as admin workers shows", async () => {
      const workers = await admin.workers();
      const functionsOf = (node: NodeStatsSnapshot) =>
        workers
          .find((w) => w.clientId === node.node)
          ?.functions.slice()
          .sort();
      assert.deepEqual(functionsOf(nodes.plain), ["glimpse_map"]);
      assert.deepEqual(functionsOf(nodes.gpu), ["glimpse_map", "glimpse_map:gpu"]);
      assert.deepEqual(functionsOf(nodes.bigmem), ["glimpse_map:bigmem"]);
      assert.deepEqual([nodes.plain.labels, nodes.gpu.labels, nodes.bigmem.labels], [[], ["gpu"], ["bigmem"]]);
      assert.deepEqual([nodes.plain.exclusive, nodes.gpu.exclusive, nodes.bigmem.exclusive], [false, false, true]);
      assert.deepEqual([nodes.plain.state, nodes.gpu.state, nodes.bigmem.state], ["serving", "serving", "serving"]);
    });

    it("a labelled map runs only on the nodes with its label, with exact results", async () => {
      for (const role of ["gpu", "bigmem"] as const) {
        const out = await pool.map(pidOf, items(24), { chunksize: 1, label: role });
        assert.deepEqual(
          out.map(([x]) => x),
          items(24),
        );
        assert.deepEqual(
          [...new Set(out.map(([, pid]) => pid))],
          [nodes[role].pid],
          `${role} map ran on ${out.map(([, pid]) => pid)}`,
        );
      }
      const streamed: number[] = [];
      for await (const [x, pid] of pool.imapUnordered(pidOf, items(12), { chunksize: 2, label: "gpu" })) {
        assert.equal(pid, nodes.gpu.pid);
        streamed.push(x);
      }
      assert.deepEqual(
        streamed.sort((a, b) => a - b),
        items(12),
      );
    });

    it("an exclusive node takes no unlabelled chunk", async () => {
      const out = await pool.map(pidOf, items(60), { chunksize: 1 });
      assert.deepEqual(
        out.map(([x]) => x),
        items(60),
      );
      const pids = new Set(out.map(([, pid]) => pid));
      assert.ok(!pids.has(nodes.bigmem.pid), `the exclusive node ran unlabelled chunks: ${[...pids]}`);
      for (const pid of pids) assert.ok([nodes.plain.pid, nodes.gpu.pid].includes(pid));
    });

    it("with waitForNodesMs, a map for a label no live node carries rejects naming it and the labels there are", async () => {
      const error = await pool.map(pidOf, items(4), { label: "tpu", waitForNodesMs: 200 }).then(
        () => assert.fail("the map resolved"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PoolError, String(error));
      assert.equal(error.code, "NO_NODE");
      assert.match(
        error.message,
        /^no worker node has registered glimpse_map:tpu \(the label "tpu"\) at 127\.0\.0\.1:\d+ within 200 ms \(wait_for_nodes, or the map's waitForNodesMs\); /,
      );
      assert.match(error.message, /the labels bigmem, gpu \(and some serve unlabelled maps\)/);
      // A label some node carries passes the check and runs.
      assert.deepEqual(await pool.map((x: number) => x + 1, [1, 2], { label: "gpu", waitForNodesMs: 0 }), [2, 3]);
    });

    it("a labelled map waits in the queue until a node with its label starts (the Jenkins behaviour)", async () => {
      const map = pool.map(pidOf, items(6), { chunksize: 2, label: "late" });
      await eventually(
        async () => (await admin.status()).find((f) => f.func === "glimpse_map:late" && f.total > 0),
        10_000,
        "the late chunks queued",
      );
      await cluster.startNode(1, ["--label", "late"]);
      const out = await map;
      assert.deepEqual(
        out.map(([x]) => x),
        items(6),
      );
      const late = (await pool.ping(5000)).find((n) => n.labels.includes("late"));
      assert.ok(late, "the late node answers ping");
      assert.deepEqual([...new Set(out.map(([, pid]) => pid))], [late.pid]);
    });

    it("ping-workers shows LABELS and STATE", async () => {
      const result = await cli(["-c", cluster.configFile, "ping-workers", "5"]);
      if (kind.name === "gearmand") {
        // gearmand keeps the job of the "tpu" map no node took queued (a job server of ours drops it with its
        // client): ping-workers names it and exits 3, degraded, as it should.
        assert.equal(result.code, 3, result.stderr);
        assert.match(result.stderr, /holds \d+ jobs? of glimpse_map:tpu queued with no worker registered for it/);
      } else assert.equal(result.code, 0, result.stderr);
      const [header, ...rows] = result.stdout.trim().split("\n");
      assert.match(header, /\sLABELS\s+STATE$/);
      const row = rows.find((r) => r.split(/\s+/)[1] === String(nodes.bigmem.pid));
      assert.ok(row, result.stdout);
      assert.match(row, /\sbigmem\s+serving$/);
      assert.match(
        rows.find((r) => r.split(/\s+/)[1] === String(nodes.plain.pid))!,
        /\s-\s+serving$/,
      );
    });
  });
}

describe("label names and options", () => {
  const base = { jobServers: ["127.0.0.1:4730"], commandUrl: "tcp://127.0.0.1:1", logUrl: "tcp://127.0.0.1:2" };

  it("a worker node's labels: checked characters and length, exclusive needs one", () => {
    assert.deepEqual(fillNodeOptions({ ...base, labels: ["gpu", "big-mem.2", "gpu"] }).labels, ["gpu", "big-mem.2"]);
    for (const [labels, pattern] of [
      [["a b"], /worker node option labels: label "a b" may hold only letters, digits/],
      [["gpu:1"], /label "gpu:1" may hold only/],
      [[""], /got an empty one/],
      [["x".repeat(65)], /has 65 characters; at most 64/],
    ] as const) {
      assert.throws(
        () => fillNodeOptions({ ...base, labels }),
        (e: unknown) => e instanceof ArgumentError && pattern.test(e.message),
      );
    }
    assert.throws(
      () => fillNodeOptions({ ...base, exclusive: true }),
      /worker node option exclusive: an exclusive node serves only labelled maps: give it at least one label/,
    );
    assert.throws(
      () => fillNodeOptions({ ...base, maxChunks: 0 }),
      /worker node option maxChunks: expected a whole number ≥ 1/,
    );
  });

  it("[server] labels and exclusive in the config, a bad one named by file and key", () => {
    const config = loadConfig({ server: { labels: "gpu, bigmem", exclusive: "yes" } })!;
    assert.deepEqual(config.server.labels, ["gpu", "bigmem"]);
    assert.equal(config.server.exclusive, true);
    assert.deepEqual(loadConfig({ server: {} })!.server.labels, []);
    assert.throws(
      () => loadConfig({ server: { labels: "gpu, big mem" } }),
      (e: unknown) =>
        e instanceof ConfigError && /server.*labels/.test(e.message) && /label "big mem" may hold only/.test(e.message),
    );
  });

  it("a map's label is checked like a node's", () => {
    const defaults = { chunksize: 1, timeoutMs: 1000, retries: 0, waitForNodesMs: 30_000 };
    assert.equal(fillMapOptions({ label: "gpu", waitForNodesMs: 0 }, defaults).label, "gpu");
    assert.throws(
      () => fillMapOptions({ label: "gpu,bigmem" }, defaults),
      /map option label: label "gpu,bigmem" may hold only/,
    );
    assert.throws(
      () => fillMapOptions({ waitForNodesMs: -1 }, defaults),
      /map option waitForNodesMs: expected a whole number ≥ 0/,
    );
  });

  it("launch-worker --label with a bad name exits 2 naming it", async () => {
    // The shipped example: a config a worker node can start from (it names job_server_url).
    const example = new URL("../../config.ini.example", `file://${CLI_PATH}`).pathname;
    const result = await cli(["-c", example, "launch-worker", "1", "--label", "gpu", "--label", "no way"]);
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      'glimpse-cluster: --label: label "no way" may hold only letters, digits, "_", "-" and ".", and must start with a letter or digit\n',
    );
  });

  it("selectors: pid, host:pid, host, node id, label:NAME, all", () => {
    const node = {
      node: "glimpse-node:h1:42:abc",
      host: "h1",
      pid: 42,
      labels: ["gpu"],
    } as unknown as NodeStatsSnapshot;
    for (const selector of ["42", "h1:42", "h1", "glimpse-node:h1:42:abc", "label:gpu"])
      assert.ok(selects(checkSelector("s", selector), node), selector);
    for (const selector of ["43", "h2:42", "h1:43", "h2", "label:bigmem", "glimpse-node:h1:42"])
      assert.ok(!selects(checkSelector("s", selector), node), selector);
    assert.ok(selects({ all: true }, node));
    assert.throws(() => checkSelector("drain selector", ""), /drain selector: expected a pid, host:pid/);
    assert.throws(() => checkSelector("drain selector", "label:a b"), /drain selector: label "a b"/);
  });

  it("the ping table's LABELS and STATE columns", () => {
    const stats = {
      host: "h",
      pid: 1,
      numRequests: 0,
      elapsedTime: 0,
      startTime: 0,
      threads: 1,
      busy: 0,
      prefetched: 0,
      itemsDone: 0,
      memoryVersion: 0,
      handedBack: 0,
      exclusive: false,
    };
    const table = formatPingTable([
      { ...stats, node: "a", labels: ["gpu", "bigmem"], state: "draining" },
      { ...stats, node: "b", pid: 2, labels: [], state: "serving" },
    ]);
    const [, first, second] = table.split("\n");
    assert.match(first, /\sgpu,bigmem\s+draining$/);
    assert.match(second, /\s-\s+serving$/);
  });
});
