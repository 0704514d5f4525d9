/**
 * The ZeroMQ channels: malformed frames ignored, a node of another channel protocol version named
 * (by the log channel, and by a pool's setMemory it leaves unanswered), and a broker restarted under
 * a running cluster.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import * as zmq from "zeromq";
import { Broker } from "../lib/channels/index.js";
import { LoopingSubscriber } from "../lib/channels/subscriber.js";
import {
  CHANNEL_VERSION,
  parseCommand,
  parseLog,
  TOPIC_ALL,
  TOPIC_PROGRESS,
  TOPIC_REPLY,
} from "../lib/channels/messages.js";
import { LogChannel } from "../lib/control/log-channel.js";
import { PACKAGE_VERSION } from "../lib/version.js";
import { ClusterPool, MakePool, PoolError, loadConfig } from "../lib/index.js";
import { GearmanClient, GearmanWorker } from "../lib/gearman/index.js";
import { ClusterControl } from "../lib/control/cluster-control.js";
import { controlOptions } from "../lib/config/channel-options.js";
import { embedded, jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";

/**
 * A bound log channel, the types of the messages it hands on, the channel-version warnings this process
 * gets, and a publisher connected to it; `close` undoes it all.
 */
async function versionProbe(options: { watchProgress?: boolean } = {}) {
  const channel = new LogChannel({ url: "tcp://127.0.0.1:0", bind: true, ...options });
  const read: string[] = [];
  channel.watch((envelope) => read.push(envelope.message.type));
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if ((warning as { code?: string }).code === "GLIMPSE_CHANNEL_VERSION") warnings.push(warning);
  };
  process.on("warning", onWarning);
  await channel.open();
  const publisher = new zmq.Publisher({ linger: 0 });
  publisher.connect(channel.endpoint);
  const close = async () => {
    process.off("warning", onWarning);
    publisher.close();
    await channel.close();
  };
  return { channel, read, warnings, publisher, close };
}

describe("channels", () => {
  it("ignores and counts malformed messages, never throws out of the receive loop", async () => {
    const subscriber = new LoopingSubscriber();
    const received: string[] = [];
    await subscriber.open({ url: "tcp://127.0.0.1:0", bind: true }, [TOPIC_ALL], (_topic, body) => {
      const command = parseCommand(body);
      if (command) received.push(command.command.type);
    });
    const publisher = new zmq.Publisher({ linger: 0 });
    publisher.connect(subscriber.endpoint);
    try {
      await eventually(
        async () => {
          await publisher.send(["all", "not json"]);
          await publisher.send(["all"]);
          await publisher.send([
            "all",
            JSON.stringify({ v: CHANNEL_VERSION, id: "x", from: "t", time: 0, command: { type: "ping" } }),
          ]);
          return received.length > 0;
        },
        5000,
        "a valid command to arrive",
      );
      assert.ok(subscriber.malformed > 0);
      assert.ok(received.every((t) => t === "ping"));
      assert.equal(parseLog(Buffer.from(`{"v":${CHANNEL_VERSION},"node":"n","message":{"type":"bogus"}}`)), undefined);
    } finally {
      publisher.close();
      await subscriber.close();
    }
  });

  it("bound subscribers closed while their publishers disconnect: 3,000 closes, the process never aborts", async () => {
    // In a process of its own: a socket used from two threads at once aborts the whole process.
    const churn = new URL("./support/subscriber-churn.js", import.meta.url).pathname;
    const outcome = await new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = execFile(process.execPath, [churn, "300"], { timeout: 240_000 }, (_error, stdout, stderr) =>
          resolve({ code: child.exitCode, signal: child.signalCode, stdout, stderr }),
        );
      },
    );
    assert.deepEqual(
      { code: outcome.code, signal: outcome.signal, stdout: outcome.stdout },
      { code: 0, signal: null, stdout: "done\n" },
      outcome.stderr,
    );
  });

  it("a node of channel protocol version 1 is said once, naming it, its host and both versions; its messages are not read", async () => {
    const { channel, read, warnings, publisher, close } = await versionProbe();
    const old = (id: string) =>
      JSON.stringify({
        v: 1,
        id,
        node: "old-node",
        host: "gear9",
        pid: 4242,
        time: 0,
        message: { type: "need-memory", version: 3 },
      });
    try {
      let sent = 0;
      await eventually(
        async () => {
          await publisher.send([TOPIC_REPLY, old(`m${++sent}`)]);
          return warnings.length > 0;
        },
        10_000,
        "the warning about the version 1 node",
      );
      // Once per node: one more version 1 message, then one of this version, which arrives after it.
      await publisher.send([TOPIC_REPLY, old("again")]);
      const current = { v: CHANNEL_VERSION, id: "now", node: "new-node", host: "h", pid: 1, time: 0 };
      await publisher.send([TOPIC_REPLY, JSON.stringify({ ...current, message: { type: "need-memory", version: 1 } })]);
      await eventually(() => read.length > 0, 10_000, "the message of this version");
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(
        warnings[0].message,
        `worker node old-node (gear9:4242) speaks channel protocol version 1, this client version ${CHANNEL_VERSION} ` +
          `(glimpse-cluster ${PACKAGE_VERSION}): its messages are ignored and it ignores this client's commands ` +
          `(setMemory, ping, drain); run one glimpse-cluster version on the pools, the CLI and the worker nodes`,
      );
      assert.equal(
        channel.describeNode("old-node"),
        `old-node (it speaks channel protocol version 1, this client version ${CHANNEL_VERSION})`,
      );
      assert.equal(channel.describeNode("new-node"), "new-node");
      assert.deepEqual(read, ["need-memory"], "only the message of this version was handed on");
      assert.equal(warnings.length, 1, "said once per node");
    } finally {
      await close();
    }
  });

  it("a pool of channel protocol version 1 heard by a dashboard is said as a pool, whose progress is ignored (it takes no commands)", async () => {
    const { read, warnings, publisher, close } = await versionProbe({ watchProgress: true });
    const progress = { type: "progress", mapId: "m1", fn: "f", done: 0, total: 1, failed: 0, state: "running" };
    const old = (id: string) =>
      JSON.stringify({ v: 1, id, node: "old-pool", host: "desk", pid: 7, time: 0, message: progress });
    try {
      let sent = 0;
      await eventually(
        async () => {
          await publisher.send([TOPIC_PROGRESS, old(`p${++sent}`)]);
          return warnings.length > 0;
        },
        10_000,
        "the warning about the version 1 pool",
      );
      assert.equal(
        warnings[0].message,
        `pool old-pool (desk:7) speaks channel protocol version 1, this client version ${CHANNEL_VERSION} ` +
          `(glimpse-cluster ${PACKAGE_VERSION}): its map progress is ignored; run one glimpse-cluster version on the ` +
          `pools, the CLI and the worker nodes`,
      );
      assert.deepEqual(read, [], "nothing of version 1 was handed on");
    } finally {
      await close();
    }
  });

  it(
    "a broker restarted during a run: commands reach every node again and logs flow, nothing else restarted",
    { skip: embedded.skip },
    async () => {
      const cluster = await TestCluster.start({ kind: embedded });
      let broker = cluster.broker!;
      const pool = await MakePool(cluster.configFile);
      try {
        await cluster.startNode(1);
        await cluster.startNode(1);
        const before = await pool.ping(5000);
        assert.equal(before.length, 2);
        const endpoints = broker.endpoints!;
        await broker.close();
        broker = new Broker(endpoints);
        await broker.start();
        const after = await pool.ping(10_000);
        assert.deepEqual(after.map((n) => n.pid).sort(), before.map((n) => n.pid).sort());
        await pool.setMemory({ after: "restart" });
        assert.deepEqual(await pool.map(() => memory.get("after"), [0, 1]), ["restart", "restart"]);
      } finally {
        await pool.close();
        await broker.close();
        await cluster.close();
      }
    },
  );
});

declare const memory: { get(key: string): unknown };

/** How long the setMemory below waits for acknowledgements (ControlOptions.memoryAckMs; 30 s by default). */
const ACK_MS = 5000;

for (const kind of jobServerKinds()) {
  describe(`a node of another channel protocol version, on ${kind.name}`, { skip: kind.skip }, () => {
    it("a pool's setMemory it leaves unanswered fails naming it and both versions; the node of this version has the memory", async () => {
      const cluster = await TestCluster.start({ kind });
      const opened = cluster.server.clientOptions();
      // A version 1 node as the pool sees one: registered for glimpse_map under its node id, heard on
      // the log channel speaking version 1, deaf to this version's set-memory.
      const old = new GearmanWorker({ ...opened, clientId: "old-node" });
      const publisher = new zmq.Publisher({ linger: 0 });
      let control: ClusterControl | undefined;
      let pool: ClusterPool | undefined;
      const warnings: string[] = [];
      const onWarning = (warning: Error) => {
        if ((warning as { code?: string }).code === "GLIMPSE_CHANNEL_VERSION") warnings.push(warning.message);
      };
      process.on("warning", onWarning);
      try {
        await cluster.startNode(1);
        old
          .register("glimpse_map", () => {
            throw new Error("a version 1 node is given no chunk here");
          })
          .pause() // registered, taking no job
          .start();
        const client = loadConfig(cluster.configFile)!.client;
        control = await ClusterControl.open({ ...controlOptions(client), memoryAckMs: ACK_MS });
        pool = new ClusterPool({
          client: new GearmanClient(opened),
          control,
          defaults: { chunksize: 4, timeoutMs: 60_000, retries: 0, waitForNodesMs: false },
          cacheFunctions: false,
        });
        const live = control.nodes;
        await eventually(
          async () => (await live.list()).size === 2 && (await live.list()).has("old-node"),
          20_000,
          "the job server listing the version 1 node and the node of this version",
        );
        publisher.connect(cluster.broker!.endpoints!.logFrontendUrl);
        let sent = 0;
        await eventually(
          async () => {
            const body = { v: 1, id: `m${++sent}`, node: "old-node", host: "gear9", pid: 4242, time: Date.now() };
            await publisher.send([
              TOPIC_REPLY,
              JSON.stringify({ ...body, message: { type: "need-memory", version: 0 } }),
            ]);
            return warnings.length > 0;
          },
          20_000,
          "the pool hearing the version 1 node",
        );
        const started = Date.now();
        const error = await pool.setMemory({ rate: 2 }).then(
          () => assert.fail("setMemory resolved without the version 1 node's acknowledgement"),
          (thrown: unknown) => thrown,
        );
        assert.ok(error instanceof PoolError, String(error));
        assert.equal(error.code, "MEMORY");
        assert.equal(
          error.message,
          `set-memory: no acknowledgement from worker node old-node (it speaks channel protocol version 1, ` +
            `this client version ${CHANNEL_VERSION}) within ${ACK_MS} ms`,
        );
        assert.ok(Date.now() - started >= ACK_MS, "it waited out the deadline it names");
        // The node of this version acknowledged (it is not named) and holds the new memory.
        const nodes = await pool.ping(10_000);
        assert.equal(nodes.length, 1, JSON.stringify(nodes));
        assert.equal(nodes[0].memoryVersion, control.memory.version);
      } finally {
        process.off("warning", onWarning);
        publisher.close();
        await old.close();
        await (pool ? pool.close() : control?.close());
        await cluster.close();
      }
    });
  });
}
