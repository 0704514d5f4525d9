/**
 * A worker node's threads with prefetch: a chunk waits in its thread behind
 * the running one; stopping the waiting chunk leaves the running one alone,
 * and stopping the running one (its thread is terminated) runs the waiting
 * one again on the replacement thread. Real piscina threads; each chunk holds
 * its thread until the test releases it (marker files), so no assertion
 * depends on timing.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkThreads } from "../lib/node/chunk-threads.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { decodeChunkResponse } from "../lib/wire/chunk-response.js";
import { moduleFunction, toFunctionRef } from "../lib/wire/function-ref.js";

const dir = mkdtempSync(join(tmpdir(), "glimpse-chunk-threads-"));
const hold = toFunctionRef(
  moduleFunction(new URL("./fixtures/marker-functions.js", import.meta.url), "holdUntilReleased"),
);
let chunkCounter = 0;

function request(label: string): Buffer {
  return encodeChunkRequest({
    fn: hold,
    items: [{ dir, label }],
    start: 0,
    mapId: "threads-test",
    chunk: chunkCounter++,
    memoryVersion: 0,
  });
}

const hasStarted = (label: string) => existsSync(join(dir, `${label}.started`));

/** Resolves once the chunk `label` is running on a thread. */
async function started(label: string): Promise<void> {
  while (!hasStarted(label)) await new Promise((resolve) => setTimeout(resolve, 2));
}

function release(label: string): void {
  writeFileSync(join(dir, `${label}.released`), "");
}

const resultOf = (bytes: Uint8Array) => {
  const response = decodeChunkResponse(bytes);
  assert.ok(response.ok, JSON.stringify(response));
  return response.results[0];
};

describe("chunk threads with prefetch", () => {
  const threads = new ChunkThreads({
    threads: 1,
    prefetch: 1,
    resourceLimits: undefined,
    memoryWaitMs: 5000,
    policy: { allowSource: true, allowedModules: [], why: "test" },
  });
  after(async () => {
    for (const label of ["running", "waiting", "stuck", "behind", "doomed"]) release(label);
    await threads.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a waiting chunk that is stopped never runs, and the running one finishes", async () => {
    const first = threads.run(request("running"), new AbortController().signal);
    const controller = new AbortController();
    const second = threads.run(request("waiting"), controller.signal);
    await started("running");
    controller.abort(new Error("map cancelled"));
    await assert.rejects(second, /map cancelled/);
    release("running");
    assert.equal(resultOf(await first), "running");
    // The thread came to the stopped chunk and skipped it; the next chunk runs on the same thread.
    release("next");
    assert.equal(resultOf(await threads.run(request("next"), new AbortController().signal)), "next");
    assert.equal(hasStarted("waiting"), false, "the stopped chunk never started");
  });

  it("a running chunk that is stopped ends its thread; the chunk waiting behind it runs on the new thread", async () => {
    const controller = new AbortController();
    const first = threads.run(request("stuck"), controller.signal);
    const second = threads.run(request("behind"), new AbortController().signal);
    await started("stuck");
    assert.equal(hasStarted("behind"), false, "one thread: the second chunk waits behind the first");
    controller.abort(new Error("attempt timed out"));
    await assert.rejects(first, /attempt timed out/);
    await started("behind");
    release("behind");
    assert.equal(resultOf(await second), "behind");
  });

  it("a large chunk moved to a thread that died before taking it runs on the replacement with all its bytes; the node's copy is untouched", async () => {
    const blob = new Uint8Array(256 * 1024).map((_, i) => (i * 7) % 251);
    const big = encodeChunkRequest({
      fn: toFunctionRef((x: { blob: Uint8Array }) => x.blob.reduce((sum, b) => sum + b, 0)),
      items: [{ blob }],
      start: 0,
      mapId: "threads-test",
      chunk: chunkCounter++,
      memoryVersion: 0,
    });
    const before = Buffer.from(big);
    const controller = new AbortController();
    const first = threads.run(request("doomed"), controller.signal);
    const second = threads.run(big, new AbortController().signal);
    await started("doomed");
    controller.abort(new Error("attempt timed out"));
    await assert.rejects(first, /attempt timed out/);
    assert.equal(
      resultOf(await second),
      blob.reduce((sum, b) => sum + b, 0),
    );
    assert.ok(before.equals(big), "the request the node holds is not detached or changed");
  });

  it("without prefetch: a chunk handed over as soon as the running one was stopped runs on the replacement thread; one still held at destroy rejects", async () => {
    // A limit on piscina's own queue once refused such a chunk again and again in one run of microtasks: the node's
    // event loop never turned, the replacement thread never started, and the node spun forever.
    const single = new ChunkThreads({
      threads: 1,
      prefetch: 0,
      resourceLimits: undefined,
      memoryWaitMs: 5000,
      policy: { allowSource: true, allowedModules: [], why: "test" },
    });
    try {
      const controller = new AbortController();
      const first = single.run(request("alone"), controller.signal);
      await started("alone");
      controller.abort(new Error("attempt given up"));
      await assert.rejects(first, /attempt given up/);
      release("after");
      assert.equal(resultOf(await single.run(request("after"), new AbortController().signal)), "after");
      const held = single.run(request("held at destroy"), new AbortController().signal).then(
        () => undefined,
        (error: unknown) => error,
      );
      await started("held at destroy");
      await single.destroy();
      assert.equal(((await held) as { code?: string })?.code, "THREADS_CLOSED");
    } finally {
      release("alone");
      release("held at destroy");
      await single.destroy();
    }
  });

  it("runs 300 distinct functions, then the first again (compiled functions are kept in a bounded cache)", async () => {
    const sources = Array.from({ length: 300 }, (_, i) => toFunctionRef(new Function("x", `return x + ${i}`)));
    const run = async (i: number) => {
      const bytes = await threads.run(
        encodeChunkRequest({
          fn: sources[i],
          items: [1000],
          start: 0,
          mapId: "threads-test",
          chunk: chunkCounter++,
          memoryVersion: 0,
        }),
        new AbortController().signal,
      );
      return resultOf(bytes);
    };
    for (let i = 0; i < sources.length; i++) assert.equal(await run(i), 1000 + i);
    assert.equal(await run(0), 1000, "an evicted function compiles again");
  });

  it("a chunk whose memory version never reaches its thread ends with a coded MEMORY_TIMEOUT error", async () => {
    // No worker node here answers the thread's request for version 7: the wait ends at memoryWaitMs (50 ms).
    const short = new ChunkThreads({
      threads: 1,
      prefetch: 0,
      resourceLimits: undefined,
      memoryWaitMs: 50,
      policy: { allowSource: true, allowedModules: [], why: "test" },
    });
    try {
      const bytes = await short.run(
        encodeChunkRequest({
          fn: toFunctionRef((x: number) => x),
          items: [1],
          start: 0,
          mapId: "threads-test",
          chunk: chunkCounter++,
          memoryVersion: 7,
        }),
        new AbortController().signal,
      );
      const response = decodeChunkResponse(bytes);
      assert.ok(!response.ok);
      assert.equal(response.error.name, "NodeError");
      assert.equal(response.error.code, "MEMORY_TIMEOUT");
      assert.match(
        response.error.message,
        /shared memory version 7 did not reach this worker thread within 50 ms \(it holds version 0\)/,
      );
    } finally {
      await short.destroy();
    }
  });

  it("an already aborted signal rejects at once", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    await assert.rejects(threads.run(request("never"), controller.signal), /too late/);
    assert.equal(hasStarted("never"), false);
  });
});
