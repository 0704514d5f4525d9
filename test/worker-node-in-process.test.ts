/**
 * One WorkerNode driven in the test process, no process started: its jobs
 * come from a JobServer in this process (connectInProcess), its commands and
 * logs go over ZeroMQ inproc:// sockets the test binds, as a broker's would
 * be, and its chunks run on its own piscina threads. The cluster has a
 * secret, so every chunk and command is signed and checked. What it
 * registers, how it answers drain, online, set-memory and cancel, and what
 * it does with a chunk it refuses. Chunks that must stay running hold their
 * thread until the test releases them (files), so every step waits for an
 * event, never for time. The same node runs end to end in its own process in
 * drain.test.ts, labels.test.ts, security.test.ts and pool.test.ts.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { JobServer } from "../lib/server/index.js";
import { AdminClient, GearmanClient, JobError } from "../lib/gearman/index.js";
import { WorkerNode, type ChunkEvent } from "../lib/node/worker-node.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { decodeChunkResponse } from "../lib/wire/chunk-response.js";
import { chunkNonce, signChunk, verifyChunk } from "../lib/wire/chunk-signing.js";
import { moduleFunction, toFunctionRef, type FunctionRef } from "../lib/wire/function-ref.js";
import { MAP_FUNCTION, TAKEN_NUMERATOR, readNodeException } from "../lib/wire/protocol.js";
import { ClusterKey } from "../lib/security/cluster-key.js";
import { MessageGuard } from "../lib/security/message-guard.js";
import { QueuedPublisher } from "../lib/channels/publisher.js";
import { LoopingSubscriber } from "../lib/channels/subscriber.js";
import {
  CHANNEL_VERSION,
  TOPIC_ALL,
  TOPIC_LOG,
  TOPIC_REPLY,
  parseLog,
  type Command,
  type LogEnvelope,
} from "../lib/channels/messages.js";
import { Condition } from "../lib/condition.js";
import { encodeMemory } from "../lib/wire/memory-codec.js";
import { eventually } from "./support/gearman.js";
import { PACKAGE_VERSION } from "../lib/version.js";

/** The one free name a shipped function has on a node. */
declare const memory: { get(key: string): unknown };

const SECRET = "the secret of the in-process worker node tests";
const key = new ClusterKey(SECRET);
/** Job servers are named, never dialled: every stream is opened in process. */
const SERVER = "127.0.0.1:4730";
const DEADLINE_MS = 20_000;
/** A node that never answers fails its test here rather than holding the suite. */
const TEST = { timeout: 60_000 };
const fixtures = new URL("./fixtures/marker-functions.js", import.meta.url);
const hold = toFunctionRef(moduleFunction(fixtures, "holdUntilReleased"));
const mark = toFunctionRef(moduleFunction(fixtures, "appendMarker"));

describe("a worker node in the test process", () => {
  const dir = mkdtempSync(join(tmpdir(), "glimpse-node-in-process-"));
  const server = new JobServer();
  const open = () => server.connectInProcess();
  const client = new GearmanClient({ servers: SERVER, open });
  const admin = new AdminClient(SERVER, { open });
  const commands = new QueuedPublisher({ key, kind: "command" });
  const logs = new LoopingSubscriber({ guard: new MessageGuard(key), kind: "log" });
  const heard: LogEnvelope[] = [];
  const logArrived = new Condition();
  const chunkEvents: ChunkEvent[] = [];
  let node: WorkerNode;
  let chunks = 0;
  let commandsSent = 0;

  /** The first log message (already heard or still to come) that `matches`. */
  async function logged(matches: (envelope: LogEnvelope) => boolean, what: string): Promise<LogEnvelope> {
    const find = () => heard.find(matches);
    if (!(await logArrived.until(() => find() !== undefined, DEADLINE_MS)))
      throw new Error(`no log message ${what} within ${DEADLINE_MS} ms`);
    return find()!;
  }

  /** Publishes `command` (again every 100 ms: PUB/SUB drops what precedes a subscription) until `answered`. */
  async function send<T>(command: Command, answered: (id: string) => Promise<T>): Promise<T> {
    const id = `test-${++commandsSent}`;
    const body = JSON.stringify({ v: CHANNEL_VERSION, id, from: "test", time: Date.now(), command });
    const publish = () => void commands.send(TOPIC_ALL, body);
    publish();
    const again = setInterval(publish, 100);
    try {
      return await answered(id);
    } finally {
      clearInterval(again);
    }
  }

  /** Sends a command and resolves with its acknowledgement's memory version and node state. */
  const command = (c: Command) =>
    send(c, async (id) => {
      const { message } = await logged((e) => e.message.type === "ack" && e.message.commandId === id, `ack ${id}`);
      return message as Extract<LogEnvelope["message"], { type: "ack" }>;
    });

  function chunk(fn: FunctionRef, items: unknown[], options: { mapId?: string; memoryVersion?: number } = {}) {
    return encodeChunkRequest({
      fn,
      items,
      start: 0,
      mapId: options.mapId ?? "in-process",
      chunk: chunks++,
      memoryVersion: options.memoryVersion ?? 0,
    });
  }

  /** Submits a signed chunk; resolves with its results once its response verified for this request. */
  async function run(payload: Buffer, unique?: string): Promise<unknown[]> {
    const request = signChunk(payload, key);
    const bytes = await client.submitJob(MAP_FUNCTION, request, unique === undefined ? {} : { unique }).result;
    verifyChunk(bytes, new MessageGuard(key), "response", chunkNonce(request));
    const response = decodeChunkResponse(bytes);
    assert.ok(response.ok, JSON.stringify(response));
    return response.results;
  }

  /** What the job's WORK_EXCEPTION said; fails when the job ended otherwise. */
  async function exceptionOf(result: Promise<Buffer>): Promise<Buffer> {
    const error = await result.then(
      (bytes) => assert.fail(`the job completed (${bytes.length} bytes)`),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobError && error.exception, String(error));
    return error.exception;
  }

  const holding = (label: string) => chunk(hold, [{ dir, label }], { mapId: `hold-${label}` });
  const started = (label: string) =>
    eventually(() => existsSync(join(dir, `${label}.started`)), DEADLINE_MS, `${label} to start`);
  const release = (label: string) => writeFileSync(join(dir, `${label}.released`), "");
  const functionsRegistered = async () => (await admin.workers()).find((w) => w.clientId === node.id)?.functions;

  before(async () => {
    const name = randomBytes(6).toString("hex");
    await commands.open({ url: `inproc://glimpse-test-commands-${name}`, bind: true });
    await logs.open({ url: `inproc://glimpse-test-logs-${name}`, bind: true }, [TOPIC_LOG, TOPIC_REPLY], (_t, body) => {
      const envelope = parseLog(body);
      if (envelope) heard.push(envelope);
      logArrived.wake();
    });
    node = new WorkerNode(
      {
        jobServers: [SERVER],
        nodeId: `in-process-${name}`,
        commandUrl: commands.endpoint,
        logUrl: logs.endpoint,
        threads: 1,
        prefetch: 1,
        labels: ["red"],
        secret: SECRET,
        memoryWaitMs: DEADLINE_MS,
        graceMs: 0,
      },
      { open },
    );
    node.on("chunk", (event: ChunkEvent) => chunkEvents.push(event));
    await node.start();
  });

  after(async () => {
    for (const label of ["cancelled", "attempt", "running", "behind"]) release(label);
    await node?.stop("quit", 0);
    await Promise.all([client.close(), admin.close(), commands.close(), logs.close()]);
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("registers glimpse_map and glimpse_map:LABEL under its node id", TEST, async () => {
    const functions = await eventually(functionsRegistered, DEADLINE_MS, "the node to register");
    assert.deepEqual([...functions].sort(), [MAP_FUNCTION, `${MAP_FUNCTION}:red`]);
    assert.equal(node.state, "serving");
  });

  it("says it took a chunk before running it, and signs the response for that request", TEST, async () => {
    const request = signChunk(
      chunk(
        toFunctionRef((x: number) => x * 2),
        [1, 2, 3],
      ),
      key,
    );
    const job = client.submitJob(MAP_FUNCTION, request);
    const statuses: [number, number][] = [];
    job.on("status", (numerator: number, denominator: number) => statuses.push([numerator, denominator]));
    const bytes = await job.result;
    assert.deepEqual(statuses, [[TAKEN_NUMERATOR, 3]]);
    assert.ok(verifyChunk(bytes, new MessageGuard(key), "response", chunkNonce(request)));
    assert.deepEqual((decodeChunkResponse(bytes) as { results: unknown[] }).results, [2, 4, 6]);
    assert.equal(chunkEvents.at(-1)?.outcome, "done");
    assert.equal(chunkEvents.at(-1)?.items, 3);
  });

  it("never runs a refused chunk: answers why, counts it and logs it with the job", TEST, async () => {
    const file = join(dir, "refused-marker");
    const payload = chunk(mark, [file]);
    const before = node.refusedChunks;
    const refusals: unknown[] = [];
    node.on("refused", (error) => refusals.push(error));
    const unsigned = await exceptionOf(client.submitJob(MAP_FUNCTION, payload).result);
    assert.deepEqual(
      { ...readNodeException(unsigned), detail: "" },
      { kind: "refused", reason: "unsigned", detail: "" },
    );
    assert.match(readNodeException(unsigned)!.detail, new RegExp(`^worker node ${node.id} refused chunk job H:`));
    const forged = await exceptionOf(
      client.submitJob(MAP_FUNCTION, signChunk(payload, new ClusterKey("another secret of enough bytes"))).result,
    );
    assert.deepEqual({ ...readNodeException(forged), detail: "" }, { kind: "refused", reason: "forged", detail: "" });
    assert.equal(node.refusedChunks, before + 2);
    assert.equal(refusals.length, 2);
    assert.deepEqual(chunkEvents.slice(-2), [
      { outcome: "refused", items: 0, seconds: 0 },
      { outcome: "refused", items: 0, seconds: 0 },
    ]);
    await logged(
      (e) => e.message.type === "record" && /chunk job H:.* from job server .*; not run/.test(e.message.message),
      "about the refusal",
    );
    assert.ok(!existsSync(file), "a refused chunk never ran");
    assert.deepEqual(await run(payload), [file], "a signed one runs");
    assert.equal(readFileSync(file, "utf8"), "ran\n");
  });

  it("set-memory: acknowledges the version; a chunk that needs a newer one asks for it and waits", TEST, async () => {
    const ack = await command({ type: "set-memory", version: 1, memory: encodeMemory({ offset: 100 }) });
    assert.equal(ack.memoryVersion, 1);
    const plus = toFunctionRef((x: number) => x + (memory.get("offset") as number));
    assert.deepEqual(await run(chunk(plus, [1, 2], { memoryVersion: 1 })), [101, 102]);
    const waiting = run(chunk(plus, [1], { memoryVersion: 2 }));
    await logged((e) => e.message.type === "need-memory" && e.message.version === 2, "asking for version 2");
    assert.equal(
      (await command({ type: "set-memory", version: 2, memory: encodeMemory({ offset: 200 }) })).memoryVersion,
      2,
    );
    assert.deepEqual(await waiting, [201]);
  });

  it("set-memory whose entries do not decode: answered with why, logged, the memory kept", TEST, async () => {
    const ack = await command({ type: "set-memory", version: 50, memory: "bm90IFY4IGRhdGE=" });
    assert.equal(ack.memoryVersion, 2);
    assert.match(ack.error ?? "", /^set-memory: its entries do not decode \(/);
    const record = await logged(
      (e) => e.message.type === "record" && /set-memory version 50 from test: /.test(e.message.message),
      "about the undecodable set-memory",
    );
    assert.equal((record.message as { level: string }).level, "error");
  });

  it(
    "a command of channel protocol version 1 (set-memory with entries, its old shape) is refused, naming the sender and both versions; the memory is kept",
    TEST,
    async () => {
      const held = node.snapshot().memoryVersion;
      const body = JSON.stringify({
        v: 1,
        id: "old-pool-1",
        from: "old-pool",
        time: Date.now(),
        command: { type: "set-memory", version: 70, entries: { rate: 2 } },
      });
      const publish = () => void commands.send(TOPIC_ALL, body);
      publish();
      const again = setInterval(publish, 100);
      let record: LogEnvelope;
      try {
        record = await logged(
          (e) => e.message.type === "record" && /^refused set-memory from old-pool: /.test(e.message.message),
          "refusing the version 1 set-memory",
        );
      } finally {
        clearInterval(again);
      }
      const { message } = record.message as { message: string };
      assert.equal(record.node, node.id);
      assert.equal(
        message.replace(/ \(and \d+ more refusals? in the last seconds?\)$/, ""),
        `refused set-memory from old-pool: it speaks channel protocol version 1, this node version ${CHANNEL_VERSION} ` +
          `(glimpse-cluster ${PACKAGE_VERSION}); run one glimpse-cluster version on the pools, the CLI and the worker nodes`,
      );
      assert.equal(CHANNEL_VERSION, 2);
      assert.equal(node.snapshot().memoryVersion, held, "the version 1 set-memory changed nothing");
    },
  );

  it("cancel: stops a running chunk by its map id, and one attempt by its job's unique id", TEST, async () => {
    for (const [label, unique, id] of [
      ["cancelled", undefined, "hold-cancelled"],
      ["attempt", "in-process:attempt:1", "in-process:attempt:1"],
    ] as const) {
      const result = client.submitJob(MAP_FUNCTION, signChunk(holding(label), key), { unique }).result;
      await started(label);
      // A cancel is not acknowledged: it is published until the chunk ends.
      const exception = await send({ type: "cancel", mapIds: [id] }, () => exceptionOf(result));
      assert.match(exception.toString(), new RegExp(`${id} was cancelled`));
      assert.equal(chunkEvents.at(-1)?.outcome, "cancelled");
    }
  });

  it(
    "drain: hands back the chunk waiting behind the running one, lets that one finish, unregisters; online registers again",
    TEST,
    async () => {
      const running = run(holding("running"));
      await started("running");
      const behind = client.submitJob(MAP_FUNCTION, signChunk(holding("behind"), key));
      let taken = false;
      behind.on("status", () => (taken = true));
      await eventually(() => taken, DEADLINE_MS, "the node to take the chunk behind the running one");
      assert.equal((await command({ type: "drain" })).state, "draining");
      const handedBack = readNodeException(await exceptionOf(behind.result));
      assert.equal(handedBack?.kind, "handed-back");
      assert.ok(!existsSync(join(dir, "behind.started")), "the chunk handed back never started");
      release("running");
      assert.deepEqual(await running, ["running"]);
      await eventually(() => node.state === "drained", DEADLINE_MS, "the node to be drained");
      await eventually(async () => (await functionsRegistered())?.length === 0, DEADLINE_MS, "the node to unregister");
      assert.equal(node.snapshot().handedBack, 1);

      assert.equal((await command({ type: "online" })).state, "serving");
      const functions = await eventually(
        async () => ((await functionsRegistered()) ?? []).length > 0 && functionsRegistered(),
        DEADLINE_MS,
        "the node to register again",
      );
      assert.deepEqual([...functions!].sort(), [MAP_FUNCTION, `${MAP_FUNCTION}:red`]);
      assert.deepEqual(
        await run(
          chunk(
            toFunctionRef((x: number) => -x),
            [5],
          ),
        ),
        [-5],
      );
    },
  );
});
