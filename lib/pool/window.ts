/**
 * A bounded window of chunks in flight. Pulls chunks from the source only when
 * a slot is free (backpressure all the way to the user's generator) and yields
 * each chunk's results either in input order or as they finish.
 *
 *   source ──pull while running < limit and held < HELD_BYTES──► run(chunk) ──► finished ──► yield (ordered | as finished)
 *
 * Only running chunks fill the window. Finished ones wait for the consumer
 * (who pulls the next as soon as it is ready: nothing runs ahead of a consumer
 * that does not pull) or, in order, for an older chunk; a chunk that is stuck
 * (its node went silent, until its retry) so never stops the window from
 * feeding the other nodes. What is held behind it is bounded in bytes instead:
 * past HELD_BYTES of results (estimated), the window waits.
 *
 * The first failure stops the pulling, aborts the window's signal (so the
 * other chunks are cancelled) and is thrown to the consumer.
 */
import { setImmediate } from "node:timers/promises";
import type { Chunk } from "./chunks.js";
import { mapStopped } from "./errors.js";
import { estimateItemBytes } from "../wire/chunk-codec.js";

/** Results held for the consumer (finished, not yet yielded) beyond which no chunk is pulled, in estimated bytes. */
export const HELD_BYTES = 8 * 1024 * 1024;

export interface WindowOptions<T, R> {
  readonly limit: number;
  readonly ordered: boolean;
  readonly run: (chunk: Chunk<T>, signal: AbortSignal) => Promise<R[]>;
  /** Aborted when the consumer stops early or a chunk fails. */
  readonly controller: AbortController;
}

export interface ChunkResult<R> {
  readonly chunk: number;
  readonly start: number;
  readonly results: R[];
}

export async function* runWindow<T, R>(
  source: AsyncIterator<Chunk<T>>,
  options: WindowOptions<T, R>,
): AsyncGenerator<ChunkResult<R>> {
  const { limit, ordered, run, controller } = options;
  const running = new Map<number, Promise<ChunkResult<R>>>();
  const finished = new Map<number, ChunkResult<R>>();
  /** Estimated bytes of the results in `finished`, by chunk. */
  const weights = new Map<number, number>();
  let held = 0;
  const take = (index: number, done: ChunkResult<R>): ChunkResult<R> => {
    finished.delete(index);
    held -= weights.get(index)!;
    weights.delete(index);
    return done;
  };
  let nextToYield = 0;
  let exhausted = false;
  let failure: unknown;

  const settle = new Set<() => void>();
  const wake = () => {
    for (const fn of settle) fn();
    settle.clear();
  };

  const launch = (chunk: Chunk<T>) => {
    const promise = run(chunk, controller.signal).then(
      (results) => {
        const done = { chunk: chunk.index, start: chunk.start, results };
        const weight = results.length * estimateItemBytes(results);
        running.delete(chunk.index);
        finished.set(chunk.index, done);
        weights.set(chunk.index, weight);
        held += weight;
        wake();
        return done;
      },
      (error) => {
        running.delete(chunk.index);
        if (failure === undefined) failure = error;
        controller.abort(error);
        wake();
        throw error;
      },
    );
    promise.catch(() => {});
    running.set(chunk.index, promise);
  };

  try {
    for (;;) {
      let encodingSince = performance.now();
      while (!exhausted && failure === undefined && running.size < limit && held < HELD_BYTES) {
        const next = await source.next();
        if (next.done) exhausted = true;
        else launch(next.value);
        // Filling the window is one run of microtasks, and sockets write only after it: after a
        // millisecond of encoding, let the chunks made so far leave before making more.
        if (performance.now() - encodingSince > 1) {
          await setImmediate();
          encodingSince = performance.now();
        }
      }
      if (failure !== undefined) throw failure;
      if (ordered) {
        const done = finished.get(nextToYield);
        if (done) {
          yield take(nextToYield++, done);
          continue;
        }
      } else if (finished.size > 0) {
        const [index, done] = finished.entries().next().value as [number, ChunkResult<R>];
        yield take(index, done);
        continue;
      }
      if (exhausted && running.size === 0 && finished.size === 0) return;
      await new Promise<void>((resolve) => settle.add(resolve));
    }
  } finally {
    // Stopped early (a failure, or the consumer left): cancel what still runs. A finished window has nothing to cancel.
    if (!controller.signal.aborted && (running.size > 0 || !exhausted)) controller.abort(mapStopped());
    await source.return?.();
  }
}
