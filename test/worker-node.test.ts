/**
 * A worker node's options and its supervisor: a bad or unknown option is an
 * ArgumentError naming it, thrown before any process starts; a node process
 * that fails after starting is a coded error. Then the one wait every memory
 * version and acknowledgement wait uses (Condition).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fillNodeOptions, type NodeOptionsInput } from "../lib/node/node-options.js";
import { NodeSupervisor } from "../lib/node/node-supervisor.js";
import { NodeError } from "../lib/node/errors.js";
import { ArgumentError } from "../lib/argument-error.js";
import { Condition } from "../lib/condition.js";

const GOOD: NodeOptionsInput = {
  jobServers: ["127.0.0.1:4730"],
  commandUrl: "tcp://127.0.0.1:9001",
  logUrl: "tcp://127.0.0.1:9002",
  threads: 1,
};
const naming = (argument: string, problem?: RegExp) => (e: unknown) =>
  e instanceof ArgumentError &&
  e.code === "BAD_ARGUMENT" &&
  e.argument === argument &&
  (problem === undefined || problem.test(e.message));

describe("worker node options", () => {
  it("fills the defaults into a frozen form", () => {
    const options = fillNodeOptions(GOOD);
    assert.ok(Object.isFrozen(options));
    assert.equal(options.prefetch, 1);
    assert.equal(options.memoryWaitMs, 30_000);
    assert.match(options.nodeId, /^glimpse-node:/);
    assert.equal(options.policy.allowSource, true, "loopback-only job servers");
  });

  it("refuses an unknown option, listing the known ones", () => {
    assert.throws(
      () => fillNodeOptions({ ...GOOD, thread: 2 } as NodeOptionsInput),
      naming("worker node option thread", /unknown \(known: jobServers, commandUrl, logUrl, threads, prefetch/),
    );
  });

  it("refuses bad values, naming the option", () => {
    const cases: [Partial<Record<keyof NodeOptionsInput, unknown>>, string][] = [
      [{ threads: 0 }, "threads"],
      [{ prefetch: -1 }, "prefetch"],
      [{ jobServers: [] }, "jobServers"],
      [{ jobServers: ["127.0.0.1:99999"] }, "jobServers"],
      [{ commandUrl: "" }, "commandUrl"],
      [{ logUrl: 9002 }, "logUrl"],
      [{ secret: "short" }, "secret"],
      [{ allowSource: "sometimes" }, "allowSource"],
      [{ allowedModules: "file:///opt/" }, "allowedModules"],
      [{ graceMs: 1.5 }, "graceMs"],
      [{ curve: { publicKey: "x" } }, "curve.secretKey"],
    ];
    for (const [change, name] of cases) {
      assert.throws(
        () => fillNodeOptions({ ...GOOD, ...change } as NodeOptionsInput),
        naming(`worker node option ${name}`),
        JSON.stringify(change),
      );
    }
  });
});

describe("node supervisor", () => {
  it("checks the node's options before starting any process: a typo names the option", () => {
    assert.throws(
      () => new NodeSupervisor({ ...GOOD, prefetsh: 0 } as NodeOptionsInput, { log: () => {} }),
      naming("worker node option prefetsh", /known: .*prefetch/),
    );
    assert.throws(
      () => new NodeSupervisor(GOOD, { log: () => {}, backoff: 1 } as never),
      naming("NodeSupervisor option backoff"),
    );
  });

  it("a node process that exits before it is ready rejects start() with a coded error", async () => {
    // Valid options, but ZeroMQ refuses an endpoint without a port when the node connects its channels.
    const lines: string[] = [];
    const supervisor = new NodeSupervisor(
      { ...GOOD, commandUrl: "tcp://127.0.0.1" },
      { log: (line) => lines.push(line), output: "ignore", initialBackoffMs: 60_000 },
    );
    try {
      await assert.rejects(
        supervisor.start(),
        (e: unknown) =>
          e instanceof NodeError && e.code === "START_FAILED" && /exited \(1\) before it was ready/.test(e.message),
      );
    } finally {
      await supervisor.stop();
    }
  });
});

describe("waiting for what arrives (Condition)", () => {
  it("resolves true once a wake finds the condition holding", async () => {
    const condition = new Condition();
    let version = 0;
    const waiting = condition.until(() => version >= 2, 60_000);
    version = 1;
    condition.wake();
    version = 2;
    condition.wake();
    assert.equal(await waiting, true);
  });

  it("resolves false when the time is up, and rejects with the signal's reason when it aborts", async () => {
    const condition = new Condition();
    assert.equal(await condition.until(() => false, 10), false);
    const controller = new AbortController();
    const waiting = condition.until(() => false, 60_000, controller.signal);
    controller.abort(new Error("chunk lost"));
    await assert.rejects(waiting, /chunk lost/);
  });
});
