/** The ZeroMQ channels: malformed frames ignored, and a broker restarted under a running cluster. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Broker } from "../lib/channels/index.js";
import { LoopingSubscriber } from "../lib/channels/subscriber.js";
import { parseCommand, parseLog, TOPIC_ALL } from "../lib/channels/messages.js";
import { MakePool } from "../lib/index.js";
import { embedded } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";

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
            JSON.stringify({ v: 1, id: "x", from: "t", time: 0, command: { type: "ping" } }),
          ]);
          return received.length > 0;
        },
        5000,
        "a valid command to arrive",
      );
      assert.ok(subscriber.malformed > 0);
      assert.ok(received.every((t) => t === "ping"));
      assert.equal(parseLog(Buffer.from('{"v":1,"node":"n","message":{"type":"bogus"}}')), undefined);
    } finally {
      publisher.close();
      await subscriber.close();
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
