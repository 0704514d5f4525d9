/**
 * Drain and online on both job servers, with real worker node processes and
 * a cluster secret (so every drain and online is signed and checked): a drain
 * in the middle of a map (the running chunk finishes, the prefetched ones go
 * back to another node, nothing runs twice, the drained node takes nothing
 * more), a drained node that stays up and comes back online, restart of a
 * drained node, --max-chunks with and without --exit-when-done, drain and
 * online from the CLI, selectors that match nothing, and an unsigned drain.
 * Chunks hold their thread until the test releases them (files), so every
 * step waits for an event, never for time.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import * as zmq from "zeromq";
import { PoolError, moduleFunction, loadConfig, type ClusterPool, type NodeStatsSnapshot } from "../lib/index.js";
import { AdminClient, GearmanWorker } from "../lib/gearman/index.js";
import { writeHandBack } from "../lib/wire/protocol.js";
import { FREE_HAND_BACKS } from "../lib/pool/chunk-job.js";
import { ClusterControl } from "../lib/control/cluster-control.js";
import { controlOptions } from "../lib/config/channel-options.js";
import { CHANNEL_VERSION, TOPIC_ALL } from "../lib/channels/messages.js";
import { CLI_PATH, jobServerKinds } from "./support/job-servers.js";
import { TestCluster, type TestNode } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";

const execFileAsync = promisify(execFile);
const SECRET = "the cluster secret of the drain tests";
const countAndHold = moduleFunction<{ dir: string; label: string }, [string, number]>(
  new URL("./fixtures/drain-functions.js", import.meta.url),
  "countAndHold",
);
const pidOf = (x: number) => [x, process.pid];

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI_PATH, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

const exited = (node: TestNode) =>
  new Promise<number | null>((resolve) =>
    node.child.exitCode !== null ? resolve(node.child.exitCode) : node.child.once("exit", (code) => resolve(code)),
  );

for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`drain and online on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;
    let admin: AdminClient;
    let dir: string;
    let exitNode: TestNode;

    /** Each node's ping reply now, by the label that names its role. */
    async function node(label: string): Promise<NodeStatsSnapshot> {
      return eventually(
        async () => (await pool.ping(5000)).find((n) => n.labels.includes(label)),
        20_000,
        `the ${label} node to answer ping`,
      );
    }

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-drain-"));
      cluster = await TestCluster.start({ kind, clientConfig: [`secret = ${SECRET}`] });
      let nodes: TestNode[];
      [, , , exitNode, ...nodes] = await Promise.all([
        // "first": one thread holding two prefetched chunks behind the one it runs.
        cluster.startNode(1, ["--label", "pair,first", "--prefetch", "2"]),
        cluster.startNode(1, ["--label", "pair,second", "--prefetch", "0"]),
        cluster.startNode(1, ["--label", "mc", "--max-chunks", "2"]),
        cluster.startNode(1, ["--label", "ex", "--max-chunks", "1", "--exit-when-done"]),
      ]);
      void nodes;
      pool = await cluster.pool();
      admin = new AdminClient(cluster.server.url);
      await eventually(async () => (await pool.ping(5000)).length === 4, 20_000, "four nodes to answer ping");
    });

    after(async () => {
      await admin?.close();
      await pool?.close();
      await cluster?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("a drain in the middle of a map: the running chunk finishes, the prefetched ones run elsewhere once, the drained node takes nothing more", async () => {
      const second = await node("second");
      assert.deepEqual(await pool.drain(`${second.host}:${second.pid}`), [second.node]);
      await eventually(async () => (await node("second")).state === "drained", 10_000, "the idle second node drained");
      const before = await node("first");

      const labels = Array.from({ length: 6 }, (_, i) => `c${i}`);
      let retries = 0;
      const map = pool.map(
        countAndHold,
        labels.map((label) => ({ dir, label })),
        { chunksize: 1, label: "pair", onProgress: (p) => (retries = p.retries) },
      );
      // "first" holds three chunks: one runs (its .runs file exists), two wait behind it (prefetched).
      await eventually(
        async () => {
          const first = await node("first");
          return (
            first.busy === 1 &&
            first.prefetched === 2 &&
            readdirSync(dir).filter((f) => f.endsWith(".runs")).length === 1
          );
        },
        20_000,
        "three chunks held by the first node",
      );
      assert.deepEqual(await pool.drain(String(before.pid)), [before.node]);
      const draining = await node("first");
      assert.equal(draining.state, "draining");
      assert.equal(draining.handedBack - before.handedBack, 2);
      // Still registered while its chunk runs (gearmand would requeue a running job on CANT_DO), but grabbing nothing.
      assert.deepEqual(
        (await admin.workers())
          .find((w) => w.clientId === before.node)
          ?.functions.slice()
          .sort(),
        ["glimpse_map", "glimpse_map:first", "glimpse_map:pair"],
      );

      assert.deepEqual(await pool.online(String(second.pid)), [second.node]);
      writeFileSync(path.join(dir, "all.released"), "");
      const out = await map;
      assert.deepEqual(
        out.map(([label]) => label),
        labels,
      );
      assert.equal(retries, 0, "no retry was spent");
      for (const label of labels)
        assert.equal(
          readFileSync(path.join(dir, `${label}.runs`), "utf8")
            .trim()
            .split("\n").length,
          1,
          `${label} ran once`,
        );
      assert.equal(
        out.filter(([, pid]) => pid === before.pid).length,
        1,
        "the first node ran only the chunk it had started",
      );
      assert.equal(out.filter(([, pid]) => pid === second.pid).length, 5);
      const drained = await eventually(
        async () => {
          const now = await node("first");
          return now.state === "drained" && now;
        },
        10_000,
        "the first node drained",
      );
      assert.equal(drained.numRequests - before.numRequests, 1);
      assert.deepEqual(
        (await admin.workers()).find((w) => w.clientId === before.node)?.functions,
        [],
        "a drained node is registered for nothing",
      );
      rmSync(path.join(dir, "all.released"));
    });

    it("a drained node stays up: it answers ping, acknowledges shared memory, takes no chunk; online brings it back", async () => {
      const first = await node("first");
      assert.equal(first.state, "drained");
      await pool.setMemory({ factor: 3 });
      assert.ok((await node("first")).memoryVersion >= 1, "the drained node holds the new memory");
      const error = await pool.map(pidOf, [1], { label: "first", waitForNodesMs: 100 }).catch((e: unknown) => e);
      assert.ok(error instanceof PoolError && error.code === "NO_NODE", String(error));
      assert.deepEqual(await pool.online("label:first"), [first.node]);
      assert.equal((await node("first")).state, "serving");
      assert.deepEqual(await pool.map(pidOf, [1, 2], { label: "first" }), [
        [1, first.pid],
        [2, first.pid],
      ]);
    });

    it("a drained node that restarts comes back drained, with a new pid", async () => {
      const second = await node("second");
      await pool.drain(second.node);
      const restarted = await pool.restartWorkers(10_000);
      assert.ok(restarted.includes(second.node), `restart reached the drained node: ${restarted}`);
      const back = await eventually(
        async () => {
          const now = (await pool.ping(5000)).find((n) => n.labels.includes("second") && n.pid !== second.pid);
          return now;
        },
        20_000,
        "the second node back with a new pid",
      );
      assert.equal(back.state, "drained");
      await pool.online(String(back.pid));
    });

    it("--max-chunks drains the node after N chunks; the rest wait in the queue until online", async () => {
      const mc = await node("mc");
      const map = pool.map(pidOf, [1, 2, 3], { chunksize: 1, label: "mc" });
      await eventually(async () => (await node("mc")).state === "drained", 20_000, "the mc node drained");
      assert.equal((await node("mc")).numRequests - mc.numRequests, 2);
      const status = await eventually(
        async () => (await admin.status()).find((f) => f.func === "glimpse_map:mc"),
        5000,
        "glimpse_map:mc in status",
      );
      assert.equal(status.total, 1, "one chunk left in the queue");
      assert.equal(status.workers, 0);
      await pool.online(String(mc.pid));
      assert.deepEqual(await map, [
        [1, mc.pid],
        [2, mc.pid],
        [3, mc.pid],
      ]);
      const after = await node("mc");
      assert.equal(after.numRequests - mc.numRequests, 3);
      assert.equal(after.state, "serving", "online starts a new count of 2");
    });

    it("--max-chunks with --exit-when-done: the node exits 0 after its chunk", async () => {
      assert.deepEqual(await pool.map((x: number) => x * 2, [21], { label: "ex" }), [42]);
      assert.equal(await exited(exitNode), 0);
    });

    it("drain and online from the CLI; a selector that matches nothing is an error listing the live nodes", async () => {
      const first = await node("first");
      const drained = await cli(["-c", cluster.configFile, "drain", `${first.host}:${first.pid}`]);
      assert.equal(drained.code, 0, drained.stderr);
      assert.equal(drained.stdout.trim(), `1 worker node drained: ${first.node}`);
      const table = await cli(["-c", cluster.configFile, "ping-workers", "5"]);
      assert.match(
        table.stdout.split("\n").find((r) => r.split(/\s+/)[1] === String(first.pid)) ?? "",
        /\spair,first\s+drained$/,
      );

      const none = await cli(["-c", cluster.configFile, "drain", "no-such-host"]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(
        none.stderr,
        /drain: "no-such-host" matches no live worker node; live nodes: .*:\d+ \(glimpse-node:/,
      );
      assert.ok(none.stderr.includes(`:${first.pid} (${first.node}, labels pair,first, drained)`), none.stderr);
      assert.equal((await cli(["-c", cluster.configFile, "drain"])).code, 2);
      const error = await pool.online("label:nobody").catch((e: unknown) => e);
      assert.ok(error instanceof PoolError && error.code === "NO_MATCHING_NODE", String(error));
      assert.match(error.message, /online: "label:nobody" matches no live worker node; live nodes: /);

      const online = await cli(["-c", cluster.configFile, "online", "--all"]);
      assert.equal(online.code, 0, online.stderr);
      assert.match(online.stdout, /^3 worker nodes online: /);
      assert.equal((await node("first")).state, "serving");
    });

    it("an unsigned drain is refused and logged; the node keeps serving", async () => {
      const control = await ClusterControl.open(controlOptions(loadConfig(cluster.configFile)!.client));
      const intruder = new zmq.Publisher({ linger: 0 });
      const stop = new AbortController();
      try {
        const refused = (async () => {
          for await (const record of control.log.records(stop.signal)) {
            if (/refused: it is not signed.*drain from intruder/.test(record.message)) return record.message;
          }
          return "";
        })();
        intruder.connect(loadConfig(cluster.configFile)!.client.commandFrontendUrl);
        const body = Buffer.from(
          JSON.stringify({
            v: CHANNEL_VERSION,
            id: "u1",
            from: "intruder",
            time: Date.now(),
            command: { type: "drain" },
          }),
        );
        // Sent until a node heard one (a new PUB connection drops what it sends before it is joined).
        const sender = setInterval(() => void intruder.send([TOPIC_ALL, body]).catch(() => {}), 100);
        try {
          assert.match(await refused, /not carried out/);
        } finally {
          clearInterval(sender);
        }
        for (const n of await pool.ping(5000)) assert.equal(n.state, "serving", `${n.node} is ${n.state}`);
      } finally {
        stop.abort();
        intruder.close();
        await control.close();
      }
    });

    it("a chunk handed back over and over spends retries after the free hand-backs, then fails naming them", async () => {
      // A worker that hands back every chunk of its label: a node draining and coming back in a loop.
      let handBacks = 0;
      const looping = new GearmanWorker({ servers: cluster.server.url, clientId: "hand-back-loop" });
      looping.register("glimpse_map:loop", (job) => {
        handBacks++;
        job.exception(writeHandBack("draining again"));
      });
      looping.start();
      try {
        await eventually(
          async () => (await admin.workers()).some((w) => w.functions.includes("glimpse_map:loop")),
          10_000,
          "the looping worker registered",
        );
        const error = await pool.map(pidOf, [1], { label: "loop", retries: 1 }).then(
          () => assert.fail("the map should fail"),
          (e: unknown) => e as PoolError,
        );
        assert.ok(error instanceof PoolError && error.code === "CHUNK_FAILED", String(error));
        assert.ok(error.cause instanceof PoolError && error.cause.code === "HANDED_BACK", String(error.cause));
        assert.match(
          error.cause.message,
          new RegExp(`handed back unrun by draining worker nodes ${FREE_HAND_BACKS + 2} times`),
        );
        assert.equal(handBacks, FREE_HAND_BACKS + 2, "the free hand-backs, then one for each of the two tries");
      } finally {
        await looping.stop();
      }
    });
  });
}
