/**
 * The map's window (lib/pool/window.ts) on its own: a chunk stuck behind
 * the others (its node went silent, until its retry) never stops the window
 * from feeding the rest, results still come out in order, and what is held
 * behind the stuck chunk is bounded in bytes.
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
});
