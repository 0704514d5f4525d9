/**
 * The map's window (lib/pool/window.ts) on its own: a chunk stuck behind
 * the others (its node went silent, until its retry) never stops the window
 * from feeding the rest, results still come out in order, and what is held
 * behind the stuck chunk is bounded in bytes; a stop while the input waits
 * for its next item ends the window at once.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runWindow, HELD_BYTES } from "../lib/pool/window.js";
import { chunksOf, type Chunk } from "../lib/pool/chunks.js";

/** Lets the window run until `holds()` (or `turns` event-loop turns passed); true when it holds. */
async function settles(holds: () => boolean, turns = 200): Promise<boolean> {
  for (let i = 0; i < turns && !holds(); i++) await new Promise((resolve) => setImmediate(resolve));
  return holds();
}

/** A window over `count` one-item chunks whose chunk 0 finishes only when released; the others at once, with `result(i)`. */
function stuckFirst<R>(count: number, limit: number, result: (i: number) => R) {
  const started: number[] = [];
  let release!: () => void;
  const run = (chunk: Chunk<number>): Promise<R[]> => {
    started.push(chunk.index);
    if (chunk.index > 0) return Promise.resolve([result(chunk.items[0])]);
    return new Promise((resolve) => (release = () => resolve([result(chunk.items[0])])));
  };
  const items = Array.from({ length: count }, (_, i) => i);
  const window = runWindow(chunksOf(items, 1), { limit, ordered: true, run, controller: new AbortController() });
  return { started, window, release: () => release() };
}

describe("map window", () => {
  it("a stop while the source waits for its next item ends the window with the stop's reason, its return() asked for, not awaited", async () => {
    let returned = false;
    let wakeInput!: () => void;
    async function* input(): AsyncGenerator<number> {
      try {
        yield 1;
        await new Promise<void>((resolve) => (wakeInput = resolve));
        yield 2;
      } finally {
        returned = true;
      }
    }
    const controller = new AbortController();
    const window = runWindow(chunksOf(input(), 1), {
      limit: 4,
      ordered: true,
      run: (chunk) => Promise.resolve([...(chunk.items as number[])]),
      controller,
    });
    // The window pulls while it has room: its first next() waits on the input's second item.
    const next = window.next();
    assert.ok(await settles(() => wakeInput !== undefined), "the input waits for its next item");
    const reason = new Error("stopped");
    controller.abort(reason);
    await assert.rejects(next, (error) => error === reason);
    assert.equal(returned, false, "the input still waits: its return() runs once that item comes");
    wakeInput();
    assert.ok(await settles(() => returned), "the input's finally ran");
  });

  it("a stop while a chunk of several fills reads no more of the source: the item awaited then is the last taken", async () => {
    const taken: number[] = [];
    let returned = false;
    let wake!: () => void;
    async function* input(): AsyncGenerator<number> {
      try {
        for (let i = 0; i < 100; i++) {
          if (i === 2) await new Promise<void>((resolve) => (wake = resolve));
          taken.push(i);
          yield i;
        }
      } finally {
        returned = true;
      }
    }
    const controller = new AbortController();
    const window = runWindow(chunksOf(input(), 10, controller.signal), {
      limit: 4,
      ordered: true,
      run: (chunk) => Promise.resolve([...(chunk.items as number[])]),
      controller,
    });
    const next = window.next();
    assert.ok(await settles(() => wake !== undefined), "the input waits for its third item");
    const reason = new Error("stopped");
    controller.abort(reason);
    await assert.rejects(next, (error) => error === reason);
    wake();
    assert.ok(await settles(() => returned), "the input's finally ran");
    assert.deepEqual(taken, [0, 1, 2], "nothing was read past the item awaited at the stop");
  });

  it("a stuck chunk never stops the window from feeding the others; results still come out in order", async () => {
    const { started, window, release } = stuckFirst(100, 4, (i) => i * 2);
    const first = window.next();
    assert.ok(await settles(() => started.length === 100), `only ${started.length} of 100 chunks started`);
    release();
    const out: number[] = [];
    for (let next = await first; !next.done; next = await window.next()) out.push(...next.value.results);
    assert.deepEqual(
      out,
      Array.from({ length: 100 }, (_, i) => i * 2),
    );
  });

  it("holds at most about HELD_BYTES of results behind a stuck chunk, then waits for it", async () => {
    const big = "x".repeat(1 << 20);
    const { started, window, release } = stuckFirst(100, 4, () => big);
    const first = window.next();
    await settles(() => started.length === 100, 50);
    // Each result weighs about a MiB: past HELD_BYTES the window stops pulling (the running ones still finish).
    const most = 1 + Math.ceil(HELD_BYTES / (1 << 20)) + 4;
    assert.ok(started.length < 100 && started.length <= most, `${started.length} chunks started behind the stuck one`);
    release();
    let count = 0;
    for (let next = await first; !next.done; next = await window.next()) count++;
    assert.equal(count, 100);
    assert.equal(started.length, 100);
  });

  /**
   * A window over eight two-item chunks, all started: chunk 0 finishes when released, chunk 2 fails when told
   * to, at its second item (5) with item 4 computed; the ones after it still run.
   */
  async function failingThird(options: { ordered: boolean; finishBeforeFailure?: boolean }) {
    let release!: () => void;
    let fail!: () => void;
    const started: number[] = [];
    const aborted: number[] = [];
    const failure = new Error("item 5 threw");
    const run = (chunk: Chunk<number>, signal: AbortSignal): Promise<number[]> => {
      started.push(chunk.index);
      signal.addEventListener("abort", () => aborted.push(chunk.index));
      if (chunk.index === 0) return new Promise((resolve) => (release = () => resolve(Array.from(chunk.items))));
      if (chunk.index === 2) return new Promise((_, reject) => (fail = () => reject(failure)));
      if (chunk.index > 2) return new Promise(() => {});
      return Promise.resolve(Array.from(chunk.items));
    };
    const items = Array.from({ length: 16 }, (_, i) => i);
    const controller = new AbortController();
    const window = runWindow(chunksOf(items, 2), {
      limit: 8,
      ...options,
      run,
      controller,
      partial: (error) => (error === failure ? [4] : undefined),
    });
    const first = window.next();
    assert.ok(await settles(() => started.length === 8), `started: ${started.join(", ")}`);
    fail();
    return { window, first, failure, aborted, controller, release: () => release() };
  }

  it("in order, finishing first: a failure yields every result before the failing item, then is thrown", async () => {
    const { window, first, failure, aborted, release } = await failingThird({
      ordered: true,
      finishBeforeFailure: true,
    });
    // The chunks after the failed one are stopped; the one before it is not, and is waited for.
    assert.ok(await settles(() => aborted.length === 5), `aborted: ${aborted.join(", ")}`);
    assert.deepEqual(
      aborted.sort((a, b) => a - b),
      [3, 4, 5, 6, 7],
    );
    release();
    const out: number[] = [];
    const chunks: number[] = [];
    await assert.rejects(async () => {
      for (let next = await first; !next.done; next = await window.next()) {
        out.push(...next.value.results);
        chunks.push(next.value.chunk);
      }
    }, failure);
    assert.deepEqual(out, [0, 1, 2, 3, 4]);
    assert.deepEqual(chunks, [0, 1, 2]);
  });

  it("in order, not finishing first (map): a failure stops every other chunk and is thrown at once", async () => {
    const { first, failure, controller } = await failingThird({ ordered: true });
    // Chunk 0 is never released: nothing waits for it.
    await assert.rejects(first, failure);
    assert.equal(controller.signal.reason, failure);
  });

  it("as finished: a failure yields the results finished before it and the failed chunk's computed part, then is thrown", async () => {
    const { window, first, failure } = await failingThird({ ordered: false });
    const out: number[] = [];
    await assert.rejects(async () => {
      for (let next = await first; !next.done; next = await window.next()) out.push(...next.value.results);
    }, failure);
    assert.deepEqual(out, [2, 3, 4]);
  });
});
