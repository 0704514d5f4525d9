/**
 * Settled chunks without processes: the request flags (spread, settle) and
 * item indexes on the wire, the worker's loop that runs every item
 * (lib/node/settle.ts), and ChunkRules under `retryOn` and `errors: "return"`
 * on the retry engine against scripted attempts (backoff pauses on mocked
 * timers). The same end to end on every job server kind: pool-api.test.ts.
 */
import { describe, it, mock, afterEach } from "node:test";
import assert from "node:assert/strict";
import { decodeChunkRequest, encodeChunkRequest, readChunkRequest } from "../lib/wire/chunk-codec.js";
import { decodeChunkResponse, encodeChunkResponse, type ItemFailure } from "../lib/wire/chunk-response.js";
import { toFunctionRef } from "../lib/wire/function-ref.js";
import { RemoteCause, RemoteError, WireFormatError } from "../lib/wire/errors.js";
import { serializeError } from "../lib/wire/remote-error.js";
import { runSettled, sendSettled } from "../lib/node/settle.js";
import { runChunkJob, type ChunkJobContext, type SettleRules } from "../lib/pool/chunk-job.js";
import type { ChunkPart } from "../lib/pool/settled-chunk.js";
import { backoffMs, retryMatcher, MAX_BACKOFF_MS } from "../lib/pool/retry-on.js";
import { PoolError } from "../lib/pool/errors.js";
import { JobError } from "../lib/gearman/errors.js";
import { ScriptedClient } from "./support/scripted-attempts.js";

const ADD = toFunctionRef((a: number, b: number) => a + b);
const base = { mapId: "m1", chunk: 3, memoryVersion: 0 };

const failure = (at: number, error: Error & { code?: string }): ItemFailure => ({ at, error: serializeError(error) });
/** How a result holding a class instance is refused, after where it sits and its class. */
const RESULT_ADVICE =
  ", which would arrive as a plain object, without its methods and getters; return plain data instead (e.g. { ...value } or a toJSON()), and rebuild the instance from it if the caller needs one";
const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

describe("spread and settle on the wire", () => {
  it("a request carries its call mode as flags, and item indexes when they are not consecutive", () => {
    const bytes = encodeChunkRequest({
      ...base,
      fn: ADD,
      items: [
        [1, 2],
        [3, 4],
      ],
      start: 30,
      indexes: [30, 35],
      spread: true,
      settle: true,
    });
    assert.equal(bytes[7], 2 | 4);
    const { codec: _codec, bodyStart: _s, bodyEnd: _e, ...head } = readChunkRequest(bytes);
    assert.deepEqual(head, {
      ...base,
      start: 30,
      count: 2,
      indexes: [30, 35],
      spread: true,
      settle: true,
      replyNumbers: true,
    });
    assert.deepEqual(decodeChunkRequest(bytes).items, [
      [1, 2],
      [3, 4],
    ]);
    const plain = encodeChunkRequest({ ...base, fn: ADD, items: [1], start: 0 });
    assert.equal(plain[7], 0, "a map's request has no flags, as before");
    assert.equal("indexes" in readChunkRequest(plain), false);
    // Items that are all numbers travel in the numbers codec (3): the flags go with them.
    const numbers = encodeChunkRequest({ ...base, fn: ADD, items: [1, 2], start: 0, settle: true });
    assert.equal(numbers[6], 3);
    assert.equal(numbers[7], 4);
    assert.equal(readChunkRequest(numbers).settle, true);
    assert.deepEqual(Array.from(decodeChunkRequest(numbers).items), [1, 2]);
  });

  it("a response may carry no request flag, and indexes must name every item", () => {
    const response = encodeChunkResponse({ ok: true, results: [1], host: "h", pid: 1, elapsedMs: 0 });
    response[7] = 2;
    assert.throws(
      () => decodeChunkResponse(response),
      (e: unknown) =>
        e instanceof WireFormatError && e.message === "chunk response: flags 2 are not supported in version 1",
    );
    const bad = encodeChunkRequest({ ...base, fn: ADD, items: [1, 2], start: 0, indexes: [0] });
    assert.throws(
      () => readChunkRequest(bad),
      (e: unknown) =>
        e instanceof WireFormatError && e.message === "chunk request: meta indexes is not a list of 2 item indexes",
    );
  });

  it("a settled response carries each item's error by its position, and refuses one outside the results", () => {
    const errors = [failure(1, new TypeError("no"))];
    const decoded = decodeChunkResponse(
      encodeChunkResponse({ ok: true, results: [1, undefined, 3], errors, host: "h", pid: 2, elapsedMs: 0 }),
    );
    assert.equal(decoded.ok, true);
    assert.deepEqual(decoded.ok && decoded.results, [1, undefined, 3]);
    assert.deepEqual(decoded.ok && decoded.errors, errors);
    const outside = encodeChunkResponse({
      ok: true,
      results: [1],
      errors: [failure(4, new Error("x"))],
      host: "h",
      pid: 2,
      elapsedMs: 0,
    });
    assert.throws(
      () => decodeChunkResponse(outside),
      (e: unknown) =>
        e instanceof WireFormatError && e.message === "chunk response: errors names position 4, outside the 1 results",
    );
  });
});

describe("the worker's settled loop", () => {
  it("runs every item, spread or not, with each error in its place", async () => {
    const spread = await runSettled(
      (a, b) => {
        if (a === 2) throw new RangeError(`bad ${a}`);
        return (a as number) + (b as number);
      },
      {
        items: [
          [1, 1],
          [2, 2],
          [3, 3],
        ],
        spread: true,
      },
    );
    assert.deepEqual(spread.results, [2, undefined, 6]);
    assert.deepEqual(
      spread.errors.map((f) => [f.at, f.error.name, f.error.message]),
      [[1, "RangeError", "bad 2"]],
    );
    const asynchronous = await runSettled(
      async (x) => {
        if (x === 1) throw new Error("async no");
        return x;
      },
      { items: [0, 1, 2], spread: false },
    );
    assert.deepEqual(asynchronous.results, [0, undefined, 2]);
    assert.deepEqual(
      asynchronous.errors.map((f) => f.at),
      [1],
    );
  });

  it("a result that cannot travel becomes its item's RESULT_NOT_SENDABLE error; the others are sent", async () => {
    const settled = await runSettled((x) => (x === 1 ? () => 1 : x), { items: [0, 1, 2], spread: false });
    const bytes = sendSettled(settled, (s) => encodeChunkResponse({ ok: true, ...s, host: "h", pid: 1, elapsedMs: 0 }));
    const decoded = decodeChunkResponse(bytes);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.results, [0, undefined, 2]);
    assert.equal(decoded.errors?.[0].at, 1);
    assert.equal(decoded.errors?.[0].error.code, "RESULT_NOT_SENDABLE");
    assert.match(decoded.errors![0].error.message, /^the result cannot be sent back: .*could not be cloned/);
  });

  it("a result holding a class instance becomes its item's RESULT_NOT_SENDABLE error, naming where it sits and its class", async () => {
    class Point {
      constructor(readonly x: number) {}
      get double() {
        return this.x * 2;
      }
    }
    const settled = await runSettled(
      (x) =>
        x === 0 ? new URL("http://a/") : x === 1 ? { a: [0, { p: new Point(1) }] } : new Map([["k", new Date(0)]]),
      { items: [0, 1, 2], spread: false },
    );
    assert.deepEqual(settled.results, [undefined, undefined, new Map([["k", new Date(0)]])]);
    assert.deepEqual(
      settled.errors.map((f) => [f.at, f.error.name, f.error.code, f.error.message]),
      [
        [
          0,
          "NodeError",
          "RESULT_NOT_SENDABLE",
          `the result cannot be sent back: it is an instance of class URL${RESULT_ADVICE}`,
        ],
        [
          1,
          "NodeError",
          "RESULT_NOT_SENDABLE",
          `the result cannot be sent back: its .a[1].p is an instance of class Point${RESULT_ADVICE}`,
        ],
      ],
    );
  });
});

describe("retryOn", () => {
  const remote = (error: Error & { code?: string }) =>
    new RemoteError({ functionName: "f", index: 0, host: "h", pid: 1, error: serializeError(error) });

  it("a list matches the name or code of the remote error or any of its causes", () => {
    const match = retryMatcher(["ECONNRESET", "TimeoutError"]);
    assert.equal(match(remote(reset()), 0), true);
    assert.equal(match(remote(new TypeError("fetch failed", { cause: reset() })), 0), true);
    assert.equal(match(remote(Object.assign(new Error("late"), { name: "TimeoutError" })), 0), true);
    assert.equal(match(remote(new TypeError("bad input")), 0), false);
  });

  it("a predicate gets the remote error rebuilt, the item it threw on, and the RemoteError", () => {
    const seen: unknown[] = [];
    const match = retryMatcher((cause, item, error) => {
      seen.push(cause, item, error);
      return cause.message.includes("flaky");
    });
    const error = remote(new Error("a flaky service"));
    assert.equal(match(error, "the item"), true);
    assert.ok(seen[0] instanceof RemoteCause && seen[1] === "the item" && seen[2] === error);
  });

  it("backs off exponentially within ±20 %, at most 30 s, and not at all from 0", () => {
    for (let retry = 1; retry <= 4; retry++) {
      const ms = backoffMs(100, retry);
      const exact = 100 * 2 ** (retry - 1);
      assert.ok(ms >= exact * 0.8 && ms <= exact * 1.2, `retry ${retry}: ${ms}`);
    }
    assert.ok(backoffMs(1000, 20) <= MAX_BACKOFF_MS * 1.2);
    assert.equal(backoffMs(0, 3), 0);
  });
});

describe("a settled chunk on the retry engine", () => {
  afterEach(() => mock.timers.reset());

  const CHUNK = { index: 3, start: 30, items: [10, 11, 12, 13] };

  function run(settle: Partial<SettleRules>, retries: number, signal?: AbortSignal) {
    const client = new ScriptedClient();
    const parts: ChunkPart[] = [];
    const spent: unknown[] = [];
    const context: ChunkJobContext = {
      client,
      mapId: "m1",
      functionName: "fetchPage",
      gearmanFunction: "glimpse_map",
      timeoutMs: 60_000,
      retries,
      onRetry: (_chunk, error) => spent.push(error),
      cancelAttempt: () => {},
      settle: { returnErrors: false, retryOn: undefined, backoffMs: 100, ...settle },
    };
    const encode = (part: ChunkPart) => {
      parts.push(part);
      return encodeChunkRequest({
        ...base,
        fn: ADD,
        items: part.items,
        start: part.start,
        indexes: part.indexes,
        settle: true,
      });
    };
    const outcome = runChunkJob(context, CHUNK, encode, signal ?? new AbortController().signal).then(
      (results) => ({ results: Array.from(results), error: undefined as unknown }),
      (error: unknown) => ({ results: undefined, error }),
    );
    const respond = (results: unknown[], errors: ItemFailure[]) =>
      client.last.complete(encodeChunkResponse({ ok: true, results, errors, host: "n1", pid: 9, elapsedMs: 1 }));
    return { client, parts, spent, outcome, respond };
  }

  it("retries only the items whose errors retryOn matches, after a backoff, and merges their results", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const { client, parts, spent, outcome, respond } = run({ retryOn: retryMatcher(["ECONNRESET"]) }, 3);
    respond([20, undefined, 22, undefined], [failure(1, reset()), failure(3, reset())]);
    assert.equal(client.attempts.length, 1, "no attempt during the backoff");
    assert.deepEqual(
      spent.map((e) => (e as RemoteError).index),
      [31],
    );
    mock.timers.tick(120);
    assert.equal(client.attempts.length, 2);
    assert.deepEqual(parts[1], { items: [11, 13], start: 31, indexes: [31, 33] });
    assert.deepEqual(decodeChunkRequest(client.last.data).indexes, [31, 33]);
    respond([21, undefined], [failure(1, reset())]);
    mock.timers.tick(240);
    assert.deepEqual(parts[2], { items: [13], start: 33 });
    respond([23], []);
    assert.deepEqual((await outcome).results, [20, 21, 22, 23]);
    assert.equal(spent.length, 2, "each attempt after an error spends one of the chunk's retries");
  });

  it('spent out, the chunk rejects with the first error left; with errors: "return" it resolves with each item\'s outcome', async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const raising = run({ retryOn: retryMatcher(["ECONNRESET"]) }, 1);
    raising.respond([20, undefined, 22, 23], [failure(1, reset())]);
    mock.timers.tick(120);
    raising.respond([undefined], [failure(0, reset())]);
    const { error } = await raising.outcome;
    assert.ok(error instanceof RemoteError);
    assert.equal(error.message, "fetchPage(item 31) threw Error: read ECONNRESET on n1:9");

    const returning = run({ retryOn: retryMatcher(["ECONNRESET"]), returnErrors: true }, 1);
    returning.respond([20, undefined, 22, undefined], [failure(1, reset()), failure(3, new TypeError("bad page"))]);
    mock.timers.tick(120);
    assert.deepEqual(returning.parts[1].items, [11], "the TypeError is not retried");
    returning.respond([undefined], [failure(0, reset())]);
    const { results } = await returning.outcome;
    assert.deepEqual(results!.slice(0, 1), [20]);
    assert.equal((results![1] as RemoteError).message, "fetchPage(item 31) threw Error: read ECONNRESET on n1:9");
    assert.equal(results![2], 22);
    assert.equal((results![3] as RemoteError).message, "fetchPage(item 33) threw TypeError: bad page on n1:9");
  });

  it("an error retryOn does not match ends a raising chunk at once, whatever else is pending", async () => {
    const { client, outcome, respond } = run({ retryOn: retryMatcher(["ECONNRESET"]) }, 3);
    respond([20, undefined, undefined, 23], [failure(1, reset()), failure(2, new TypeError("bad page"))]);
    const { error } = await outcome;
    assert.equal((error as RemoteError).message, "fetchPage(item 32) threw TypeError: bad page on n1:9");
    assert.equal(client.attempts.length, 1);
  });

  it("an abort during the backoff ends the chunk at once; no attempt follows", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const controller = new AbortController();
    const { client, outcome, respond } = run({ retryOn: retryMatcher(["ECONNRESET"]) }, 3, controller.signal);
    respond([20, undefined, 22, 23], [failure(1, reset())]);
    controller.abort();
    const { error } = await outcome;
    assert.equal((error as Error).name, "AbortError");
    mock.timers.tick(1000);
    assert.equal(client.attempts.length, 1);
  });

  it('under errors: "return" a chunk given up after its retries is the outcome of each item no attempt settled', async () => {
    const fresh = run({ returnErrors: true }, 0);
    fresh.client.last.fail(new JobError("glimpse_map", "H:js1:1", undefined, 1));
    const { results } = await fresh.outcome;
    assert.equal(results!.length, 4);
    assert.ok(results!.every((r) => r instanceof PoolError && r.code === "CHUNK_FAILED" && r === results![0]));
    assert.match((results![0] as PoolError).message, /^chunk 3 \(items 30\.\.33\) failed 1 time/);

    mock.timers.enable({ apis: ["setTimeout"] });
    const partly = run({ returnErrors: true, retryOn: retryMatcher(["ECONNRESET"]) }, 1);
    partly.respond([20, undefined, 22, 23], [failure(1, reset())]);
    mock.timers.tick(120);
    partly.client.last.fail(new JobError("glimpse_map", "H:js1:2", undefined, 2));
    const settled = (await partly.outcome).results!;
    assert.deepEqual([settled[0], settled[2], settled[3]], [20, 22, 23]);
    assert.equal((settled[1] as PoolError).code, "CHUNK_FAILED");
  });
});
