/**
 * A bounded window of chunks in flight. Pulls chunks from the source only when
 * a slot is free (backpressure all the way to the user's generator) and yields
 * each chunk's results either in input order or as they finish.
 *
 *   source ──pull while inFlight < limit──► run(chunk) ──► done map ──► yield (ordered | as finished)
 *
 * The first failure stops the pulling, aborts the window's signal (so the
 * other chunks are cancelled) and is thrown to the consumer.
 */
import { setImmediate } from "node:timers/promises";
import type { Chunk } from "./chunks.js";
import { mapStopped } from "./errors.js";

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
        running.delete(chunk.index);
        finished.set(chunk.index, done);
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
      while (!exhausted && failure === undefined && running.size + finished.size < limit) {
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
          finished.delete(nextToYield++);
          yield done;
          continue;
        }
      } else if (finished.size > 0) {
        const [index, done] = finished.entries().next().value as [number, ChunkResult<R>];
        finished.delete(index);
        yield done;
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
