/**
 * The pool's retry rule as a state machine, without processes: the retry
 * engine (lib/gearman/retry-run.ts) runs one chunk under the pool's hooks
 * (ChunkRules, lib/pool/chunk-job.ts) against scripted attempts, each told
 * what befell it (a take, a second take, a hand-back, a refusal, a failure,
 * a lost server, no server at all, a result, a heartbeat, a quiet server) and its deadline and silence bound
 * driven by mocked timers. The
 * same rule end to end, through real job servers and nodes: retries.test.ts,
 * drain.test.ts, pool-local.test.ts, faults.test.ts.
 */
import { describe, it, mock, afterEach } from "node:test";
import { setImmediate } from "node:timers/promises";
import assert from "node:assert/strict";
import { closedError, connectionError, noServer, serverLost, JobError, ServerError } from "../lib/gearman/errors.js";
import { FREE_HAND_BACKS, FREE_SERVER_LOSSES, runChunkJob, type ChunkJobContext } from "../lib/pool/chunk-job.js";
import { PoolError } from "../lib/pool/errors.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { encodeChunkResponse } from "../lib/wire/chunk-response.js";
import { chunkNonce, signChunk } from "../lib/wire/chunk-signing.js";
import { toFunctionRef } from "../lib/wire/function-ref.js";
import { RemoteError } from "../lib/wire/errors.js";
import { CHUNK_SILENT_MS, writeHandBack, writeRefusal, writeTooLarge } from "../lib/wire/protocol.js";
import { ClusterKey } from "../lib/security/cluster-key.js";
import { MessageGuard } from "../lib/security/message-guard.js";
import type { RefusalReason } from "../lib/security/errors.js";
import { ScriptedClient } from "./support/scripted-attempts.js";

const SERVER = "js1:4730";
const FUNCTION = "glimpse_map";

const CHUNK = { index: 4, start: 40, items: [1, 2] };
const DOUBLE = toFunctionRef((x: number) => x * 2);
const RESULTS = encodeChunkResponse({ ok: true, results: [2, 4], host: "n1", pid: 7, elapsedMs: 1 });
const THREW = encodeChunkResponse({
  ok: false,
  index: 41,
  host: "n1",
  pid: 7,
  elapsedMs: 1,
  error: { name: "TypeError", message: "no good" },
});

/** One chunk's run: its result settled into `outcome`, and what it told the pool. */
function run(options: {
  retries: number;
  timeoutMs?: number;
  key?: ClusterKey;
  signal?: AbortSignal;
  unreachable?: () => Error;
  maxPacketSize?: number;
  items?: unknown[];
}) {
  const chunk = options.items ? { ...CHUNK, items: options.items } : CHUNK;
  const client = new ScriptedClient();
  const spent: unknown[] = [];
  const cancelled: string[] = [];
  let encoded = 0;
  const context: ChunkJobContext = {
    client,
    mapId: "m1",
    functionName: "double",
    gearmanFunction: FUNCTION,
    timeoutMs: options.timeoutMs ?? 60_000,
    retries: options.retries,
    onRetry: (c, error) => {
      assert.equal(c, chunk);
      spent.push(error);
    },
    cancelAttempt: (unique) => cancelled.push(unique),
    key: options.key,
    guard: options.key && new MessageGuard(options.key),
    unreachable: options.unreachable,
    maxPacketSize: options.maxPacketSize,
  };
  const encode = () => {
    encoded++;
    return encodeChunkRequest({ fn: DOUBLE, items: chunk.items, start: 40, mapId: "m1", chunk: 4, memoryVersion: 0 });
  };
  const result = runChunkJob(context, chunk, encode, options.signal ?? new AbortController().signal);
  const outcome: Promise<{ results?: unknown[]; error?: unknown }> = result.then(
    (results) => ({ results: Array.from(results) }),
    (error: unknown) => ({ error }),
  );
  return { client, spent, cancelled, result, outcome, encodings: () => encoded };
}

/** The error the chunk ended with, checked for its class and code. */
async function failure(outcome: Promise<{ results?: unknown[]; error?: unknown }>, code: string): Promise<PoolError> {
  const { results, error } = await outcome;
  assert.equal(results, undefined, "the chunk should have failed");
  assert.ok(error instanceof PoolError, String(error));
  assert.equal(error.code, code, error.message);
  return error;
}

const codeOf = (error: unknown) => (error as { code?: string }).code;
const lostServer = () =>
  serverLost(`job H:js1:1 (${FUNCTION})`, connectionError(SERVER, "connection closed by the server"));

describe("the pool's retry rule, through the retry engine, without processes", () => {
  afterEach(() => mock.timers.reset());

  it("a chunk taken once and completed: its results, nothing spent, nothing given up", async () => {
    const { client, spent, cancelled, result, encodings } = run({ retries: 2 });
    assert.equal(client.attempts.length, 1);
    assert.equal(client.last.unique, "m1:4:1");
    assert.equal(client.last.func, FUNCTION);
    client.last.take();
    client.last.complete(RESULTS);
    assert.deepEqual(await result, [2, 4]);
    assert.deepEqual(spent, []);
    assert.deepEqual(cancelled, []);
    assert.equal(encodings(), 1);
    assert.equal(client.last.given, false);
  });

  it("a second take of the same job spends a retry and the attempt goes on", async () => {
    const { client, spent, result } = run({ retries: 1 });
    client.last.take();
    client.last.take();
    assert.deepEqual(spent.map(codeOf), ["NODE_LOST"]);
    assert.match(
      (spent[0] as Error).message,
      /chunk 4 \(items 40\.\.41\), job H:js1:1, was handed out again by job server js1:4730/,
    );
    assert.equal(client.attempts.length, 1, "the job server runs it again: no new attempt");
    client.last.complete(RESULTS);
    assert.deepEqual(await result, [2, 4]);
  });

  it("a take past the retries ends the chunk at once: CHUNK_FAILED, the attempt withdrawn and cancelled on the nodes", async () => {
    const { client, spent, cancelled, outcome } = run({ retries: 0 });
    client.last.take();
    client.last.take();
    const error = await failure(outcome, "CHUNK_FAILED");
    assert.match(error.message, /^chunk 4 \(items 40\.\.41\) failed 1 time: its worker died/);
    assert.equal(codeOf(error.cause), "NODE_LOST");
    assert.deepEqual(spent, [], "nothing was left to spend");
    assert.ok(client.last.given && client.last.withdrawn);
    assert.deepEqual(cancelled, ["m1:4:1"]);
    assert.equal(client.attempts.length, 1);
  });

  it("failures spend a retry each and make a new attempt under a new unique; past the retries CHUNK_FAILED names the tries and the last cause", async () => {
    const { client, spent, cancelled, outcome } = run({ retries: 3 });
    client.last.fail(new JobError(FUNCTION, "H:js1:1", undefined, 1));
    assert.equal(client.last.unique, "m1:4:2");
    client.last.exception("Error: a node's own trouble");
    assert.equal(client.last.unique, "m1:4:3");
    client.last.take();
    client.last.fail(lostServer());
    client.last.take();
    client.last.fail(lostServer());
    assert.equal(client.attempts.length, 4);
    const error = await failure(outcome, "CHUNK_FAILED");
    assert.match(
      error.message,
      /^chunk 4 \(items 40\.\.41\) failed 4 times: its worker died or the job server gave up on it \(job H:js1:1 \(glimpse_map\) lost its job server: js1:4730: connection closed by the server\)$/,
    );
    assert.equal(codeOf(error.cause), "CONNECTION");
    assert.deepEqual(spent.map(codeOf), ["JOB_FAILED", "JOB_EXCEPTION", "CONNECTION"]);
    assert.deepEqual(cancelled, [], "attempts that ended by themselves are not cancelled");
    assert.ok(client.attempts.every((a) => !a.given));
  });

  it(`a job server lost before any node took the attempt is free ${FREE_SERVER_LOSSES} times (this client's own link may be the one cut), then each spends a retry`, async () => {
    const { client, spent, outcome } = run({ retries: 1 });
    for (let i = 0; i < FREE_SERVER_LOSSES; i++) client.last.fail(lostServer());
    assert.equal(client.attempts.length, FREE_SERVER_LOSSES + 1);
    assert.deepEqual(spent, []);
    client.last.fail(lostServer());
    assert.deepEqual(spent.map(codeOf), ["CONNECTION"]);
    client.last.take();
    client.last.fail(lostServer());
    const error = await failure(outcome, "CHUNK_FAILED");
    assert.match(error.message, /failed 2 times/);
  });

  it("a taken attempt whose job server is lost spends a retry: its run is lost", async () => {
    const { client, spent, result } = run({ retries: 1 });
    client.last.take();
    client.last.fail(lostServer());
    assert.deepEqual(spent.map(codeOf), ["CONNECTION"]);
    assert.equal(client.last.unique, "m1:4:2");
    client.last.complete(RESULTS);
    assert.deepEqual(await result, [2, 4]);
  });

  it("NO_SERVER from the client's own wait ends the chunk at once with NO_JOB_SERVER, spending nothing", async () => {
    const { client, spent, outcome } = run({ retries: 3 });
    client.last.fail(
      noServer(`job ${FUNCTION}`, [
        { name: SERVER, reason: "connect ECONNREFUSED (nothing listens there)" },
        { name: "js2:4730", reason: undefined },
      ]),
    );
    const error = await failure(outcome, "NO_JOB_SERVER");
    assert.equal(
      error.message,
      "chunk 4 (items 40..41) waited for a job server: no job server reachable: js1:4730: connect ECONNREFUSED (nothing listens there); js2:4730: not tried yet",
    );
    assert.deepEqual(spent, []);
    assert.equal(client.attempts.length, 1);
  });

  it("an attempt still waiting for any job server at its deadline ends the map with NO_JOB_SERVER naming every server, spending nothing", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, spent, cancelled, outcome } = run({
      retries: 3,
      timeoutMs: 1000,
      unreachable: () =>
        noServer("map m1", [{ name: SERVER, reason: "connect timed out after 5000 ms (no answer: the host is down)" }]),
    });
    client.last.fail(lostServer()); // the client was cut off: its connection dropped, no node had taken it
    client.connected = false;
    client.last.fail(lostServer()); // ...and the next attempt found no server: it waits
    assert.equal(client.last.server, undefined);
    mock.timers.tick(999);
    assert.equal(client.last.given, false);
    mock.timers.tick(1);
    const error = await failure(outcome, "NO_JOB_SERVER");
    assert.equal(
      error.message,
      "chunk 4 (items 40..41) waited 1000 ms (its timeout) for a job server: no job server reachable: js1:4730: connect timed out after 5000 ms (no answer: the host is down)",
    );
    assert.deepEqual(spent, []);
    assert.deepEqual(cancelled, [], "it never reached a node");
  });

  it("silence while the attempt's job server is quiet is not the node's: the verdict waits for the server to be heard or lost", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, spent, result } = run({ retries: 1, timeoutMs: 60_000 });
    client.last.take();
    client.last.serverQuiet = true; // nothing at all comes from js1: this client's link may be the one cut
    mock.timers.tick(CHUNK_SILENT_MS);
    await setImmediate();
    for (let i = 0; i < 10; i++) {
      mock.timers.tick(500);
      await setImmediate();
    }
    assert.equal(client.last.given, false, "given up while nothing of its server reached the client");
    client.last.serverQuiet = false; // heard again, and the heartbeats come
    client.last.workData();
    mock.timers.tick(CHUNK_SILENT_MS - 1);
    await setImmediate();
    assert.equal(client.last.given, false);
    client.last.complete(RESULTS);
    assert.deepEqual(await result, [2, 4]);
    assert.deepEqual(spent, []);

    const other = run({ retries: 1, timeoutMs: 60_000 });
    other.client.last.take();
    other.client.last.serverQuiet = true;
    mock.timers.tick(CHUNK_SILENT_MS);
    await setImmediate();
    other.client.last.serverQuiet = false; // its server is heard, its node still says nothing: the node is silent
    mock.timers.tick(500);
    await setImmediate();
    assert.ok(other.client.attempts[0].given);
    assert.deepEqual(other.spent.map(codeOf), ["NODE_LOST"]);
  });

  it("results a node found too large to send end the chunk at once with TOO_LARGE, spending nothing", async () => {
    const { client, spent, outcome } = run({ retries: 3 });
    client.last.take();
    client.last.exception(writeTooLarge("the result of item 41 alone is 99999999 bytes"));
    const error = await failure(outcome, "TOO_LARGE");
    assert.match(
      error.message,
      /^chunk 4 \(items 40\.\.41\) ran, but its results cannot come back: the result of item 41 alone is 99999999 bytes; raise max_packet_size/,
    );
    assert.deepEqual(spent, []);
    assert.equal(client.attempts.length, 1);
  });

  it("a request over maxPacketSize is never sent: TOO_LARGE naming its largest item and the limit", async () => {
    const { client, spent, outcome } = run({ retries: 3, maxPacketSize: 1024, items: [1, "x".repeat(2000)] });
    const error = await failure(outcome, "TOO_LARGE");
    assert.match(
      error.message,
      /^chunk 4 \(items 40\.\.41\) cannot be sent: item 41 alone is 200\d bytes \(2 KiB\) encoded: .* over the 1024 bytes \(1 KiB\) a job server packet may carry/,
    );
    assert.deepEqual(spent, []);
    assert.equal(client.attempts.length, 0);
  });

  it(`hand-backs are free ${FREE_HAND_BACKS} times, then each spends a retry (HANDED_BACK)`, async () => {
    const { client, spent, outcome } = run({ retries: 1 });
    for (let i = 0; i < FREE_HAND_BACKS; i++) client.last.exception(writeHandBack("node n1 is draining"));
    assert.equal(client.attempts.length, FREE_HAND_BACKS + 1);
    assert.deepEqual(spent, []);
    client.last.exception(writeHandBack("node n1 is draining"));
    assert.equal(client.attempts.length, FREE_HAND_BACKS + 2);
    assert.deepEqual(spent.map(codeOf), ["HANDED_BACK"]);
    client.last.exception(writeHandBack("node n1 is draining"));
    const error = await failure(outcome, "CHUNK_FAILED");
    assert.match(error.message, /failed 2 times/);
    assert.equal(codeOf(error.cause), "HANDED_BACK");
    assert.match((error.cause as Error).message, new RegExp(`by draining worker nodes ${FREE_HAND_BACKS + 2} times`));
  });

  it("an attempt past its timeout is withdrawn, cancelled on the nodes and tried again; the last one ends CHUNK_TIMEOUT", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, spent, cancelled, outcome } = run({ retries: 1, timeoutMs: 1000 });
    mock.timers.tick(999);
    assert.equal(client.attempts.length, 1);
    mock.timers.tick(1);
    assert.ok(client.attempts[0].given && client.attempts[0].withdrawn);
    assert.deepEqual(cancelled, ["m1:4:1"]);
    assert.deepEqual(spent.map(codeOf), ["ATTEMPT_TIMEOUT"]);
    assert.match((spent[0] as Error).message, /job H:js1:1 on js1:4730, did not finish within 1000 ms/);
    assert.equal(client.attempts.length, 2);
    mock.timers.tick(1000);
    const error = await failure(outcome, "CHUNK_TIMEOUT");
    assert.match(error.message, /^chunk 4 \(items 40\.\.41\) did not finish within 1000 ms, 2 times/);
    assert.equal(codeOf(error.cause), "ATTEMPT_TIMEOUT");
    assert.deepEqual(cancelled, ["m1:4:1", "m1:4:2"]);
    assert.ok(client.attempts[1].withdrawn);
  });

  it("each take starts the deadline again; other status does not", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, spent, result } = run({ retries: 1, timeoutMs: 1000 });
    mock.timers.tick(900);
    client.last.take();
    mock.timers.tick(900);
    client.last.take(); // a second take spends a retry and starts the deadline again too
    mock.timers.tick(900);
    assert.equal(client.last.given, false, "timed out although each take came within the timeout");
    assert.deepEqual(spent.map(codeOf), ["NODE_LOST"]);
    client.last.complete(RESULTS);
    assert.deepEqual(await result, [2, 4]);

    const other = run({ retries: 0, timeoutMs: 1000 });
    mock.timers.tick(900);
    other.client.last.take();
    mock.timers.tick(500);
    other.client.last.status(1, 2);
    mock.timers.tick(500);
    await failure(other.outcome, "CHUNK_TIMEOUT");
  });

  it("a taken chunk whose node then says nothing for 10 s is given up, cancelled on the nodes and tried again; heartbeats and any status keep it", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, spent, cancelled, outcome } = run({ retries: 1, timeoutMs: 60_000 });
    mock.timers.tick(CHUNK_SILENT_MS * 2);
    assert.equal(client.last.given, false, "a chunk waiting in a queue is not watched for silence");
    client.last.take();
    mock.timers.tick(CHUNK_SILENT_MS - 1);
    client.last.workData();
    mock.timers.tick(CHUNK_SILENT_MS - 1);
    client.last.status(1, 2);
    mock.timers.tick(CHUNK_SILENT_MS - 1);
    await setImmediate();
    assert.equal(client.last.given, false, "given up although its node was heard within the bound");
    mock.timers.tick(1);
    // The silence is confirmed after the next poll for input: what came meanwhile still counts.
    client.last.workData();
    await setImmediate();
    assert.equal(client.last.given, false, "given up although a heartbeat was read in the same turn");
    mock.timers.tick(CHUNK_SILENT_MS);
    assert.equal(client.last.given, false, "given up before this turn's input was read");
    await setImmediate();
    assert.ok(client.attempts[0].given && client.attempts[0].withdrawn);
    assert.deepEqual(cancelled, ["m1:4:1"]);
    assert.deepEqual(spent.map(codeOf), ["NODE_LOST"]);
    assert.match(
      (spent[0] as Error).message,
      new RegExp(
        `job H:js1:1 on job server js1:4730: the worker node that had taken it sent nothing for ${CHUNK_SILENT_MS} ms`,
      ),
    );
    assert.equal(client.attempts.length, 2);
    client.last.take();
    mock.timers.tick(CHUNK_SILENT_MS);
    await setImmediate();
    const error = await failure(outcome, "CHUNK_FAILED");
    assert.match(error.message, /failed 2 times/);
    assert.equal(codeOf(error.cause), "NODE_LOST");
    assert.deepEqual(cancelled, ["m1:4:1", "m1:4:2"]);
  });

  for (const reason of ["stale", "replayed"] as const)
    it(`a refusal as ${reason} spends a retry: the next attempt is signed anew`, async () => {
      const key = new ClusterKey("a secret of the chunk retry tests");
      const { client, spent, result, encodings } = run({ retries: 1, key });
      client.last.exception(writeRefusal({ reason, detail: "node n1 refused it" }));
      assert.deepEqual(spent.map(codeOf), ["JOB_EXCEPTION"]);
      assert.equal(client.attempts.length, 2);
      assert.equal(encodings(), 2, "a signed chunk is encoded again for its new signature");
      assert.notDeepEqual(chunkNonce(client.attempts[1].data), chunkNonce(client.attempts[0].data));
      client.last.complete(signChunk(RESULTS, key, chunkNonce(client.last.data)));
      assert.deepEqual(await result, [2, 4]);
    });

  for (const reason of ["forged", "unsigned", "no-secret"] satisfies RefusalReason[])
    it(`a refusal as ${reason} ends the map at once with REFUSED, spending nothing`, async () => {
      const { client, spent, outcome } = run({ retries: 3 });
      client.last.exception(writeRefusal({ reason, detail: "node n1 refused chunk 4" }));
      const error = await failure(outcome, "REFUSED");
      assert.match(error.message, /^chunk 4 \(items 40\.\.41\) was refused: node n1 refused chunk 4\. Every client/);
      assert.deepEqual(spent, []);
      assert.equal(client.attempts.length, 1);
    });

  it("a response that does not verify spends a retry", async () => {
    const key = new ClusterKey("a secret of the chunk retry tests");
    const { client, spent, result } = run({ retries: 1, key });
    client.last.complete(RESULTS); // unsigned, where a signature is required
    assert.deepEqual(
      spent.map((e) => (e as Error).name),
      ["SignatureError"],
    );
    client.last.complete(signChunk(RESULTS, key, chunkNonce(client.last.data)));
    assert.deepEqual(await result, [2, 4]);
  });

  it("a function that threw is a RemoteError at once, never retried", async () => {
    const { client, spent, outcome } = run({ retries: 3 });
    client.last.take();
    client.last.complete(THREW);
    const { error } = await outcome;
    assert.ok(error instanceof RemoteError, String(error));
    assert.match(error.message, /^double\(item 41\) threw TypeError: no good on n1:7$/);
    assert.deepEqual(spent, []);
    assert.equal(client.attempts.length, 1);
  });

  it("a job server's ERROR for the submission and a closed client end the chunk with their own error", async () => {
    for (const cause of [
      new ServerError("QUEUE_ERROR", "queue full", `job ${FUNCTION}`),
      closedError("GearmanClient"),
    ]) {
      const { client, spent, outcome } = run({ retries: 3 });
      client.last.fail(cause);
      assert.equal((await outcome).error, cause);
      assert.deepEqual(spent, []);
      assert.equal(client.attempts.length, 1);
    }
  });

  it("an abort gives the attempt up and withdraws it; the chunk rejects with the map's AbortError", async () => {
    const controller = new AbortController();
    const { client, cancelled, outcome } = run({ retries: 3, signal: controller.signal });
    client.last.take();
    const reason = new Error("enough");
    controller.abort(reason);
    const { error } = await outcome;
    assert.ok(error instanceof DOMException && error.name === "AbortError", String(error));
    assert.equal(error.cause, reason);
    assert.ok(client.last.given && client.last.withdrawn);
    assert.deepEqual(cancelled, [], "the map's own cancel reaches the nodes");
    client.last.complete(RESULTS); // too late: nothing happens

    const before = new AbortController();
    before.abort();
    const early = run({ retries: 3, signal: before.signal });
    assert.ok((await early.outcome).error instanceof DOMException);
    assert.equal(early.client.attempts.length, 0, "no attempt once aborted");
  });

  it("whatever mix of failures, takes and timeouts: taken at most 1 + retries times, every retry spent shows", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    let seed = 25;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 40; round++) {
      const retries = round % 4;
      const { client, spent, outcome } = run({ retries, timeoutMs: 1000 });
      let takes = 0;
      // An attempt that ended or was given up without a new one after it: the chunk has ended.
      for (let attempt = client.last; !attempt.given && !attempt.ended; attempt = client.last) {
        const pick = random();
        if (pick < 0.5) {
          attempt.take();
          if (!attempt.given) takes++;
        } else if (pick < 0.7) attempt.fail(lostServer());
        else if (pick < 0.85) attempt.exception("Error: flaky");
        else mock.timers.tick(1000);
      }
      const { error } = await outcome;
      assert.ok(error instanceof PoolError, String(error));
      assert.ok(takes <= 1 + retries, `round ${round}: taken ${takes} times with ${retries} retries`);
      assert.equal(spent.length, retries, `round ${round}: spent ${spent.length} of ${retries} retries`);
      assert.match(error.message, new RegExp(`${retries + 1} times?`));
    }
  });
});
