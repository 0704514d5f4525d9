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
 * The first failure stops the pulling and is thrown to the consumer, after
 * what was computed before it: the results of the chunks finished (as
 * finished; in order: those before the failed chunk) and the part of the
 * failed chunk its worker computed before the item that threw (`partial`).
 * The other chunks are cancelled, except, with `finishBeforeFailure` (imap),
 * the ones before the failed chunk: they run to their end and are yielded
 * first, so an ordered stream gives every result before the failing item,
 * as Python's imap does (a failure among them is the one thrown instead).
 */
import { setImmediate } from "node:timers/promises";
import type { Chunk, ChunkResults } from "./chunks.js";
import { mapStopped } from "./errors.js";
import { untilAborted } from "./until-aborted.js";
import { estimateItemBytes } from "../wire/item-bytes.js";

/** Results held for the consumer (finished, not yet yielded) beyond which no chunk is pulled, in estimated bytes. */
export const HELD_BYTES = 8 * 1024 * 1024;

export interface WindowOptions<T, R> {
  readonly limit: number;
  readonly ordered: boolean;
  readonly run: (chunk: Chunk<T>, signal: AbortSignal) => Promise<ChunkResults<R>>;
  /** Aborted when the consumer stops early or a chunk fails. */
  readonly controller: AbortController;
  /** Ordered: a failure lets the chunks before the failed one finish, and yields them before it is thrown. */
  readonly finishBeforeFailure?: boolean;
  /** The results a failed chunk's worker computed before the item that failed, if the failure carries any. */
  readonly partial?: (error: unknown) => R[] | undefined;
}

export interface ChunkResult<R> {
  readonly chunk: number;
  readonly start: number;
  /** An array, or the typed array number results arrived as. */
  readonly results: ChunkResults<R>;
}

export async function* runWindow<T, R>(
  source: AsyncIterator<Chunk<T>>,
  options: WindowOptions<T, R>,
): AsyncGenerator<ChunkResult<R>> {
  const { limit, ordered, run, controller, partial } = options;
  const finishBefore = ordered && options.finishBeforeFailure === true;
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
  /** A pull of the source was left pending by a stop: its generator cannot be returned until that pull settles. */
  let abandoned = false;
  /** The chunk whose failure is thrown, and its start. */
  let failed = -1;
  let failedStart = -1;
  /** With finishBeforeFailure, each running chunk's own controller: a failure stops only the chunks after it. */
  const stoppers = new Map<number, AbortController>();
  if (finishBefore)
    controller.signal.addEventListener("abort", () => {
      for (const stopper of stoppers.values()) stopper.abort(controller.signal.reason);
    });

  const settle = new Set<() => void>();
  const wake = () => {
    for (const fn of settle) fn();
    settle.clear();
  };

  const fail = (chunk: Chunk<T>, error: unknown) => {
    const index = chunk.index;
    if (failure !== undefined && (!finishBefore || index > failed)) return;
    failure = error;
    failed = index;
    failedStart = chunk.start;
    if (!finishBefore) return void controller.abort(error);
    for (const [at, stopper] of stoppers) if (at > index) stopper.abort(error);
  };

  const launch = (chunk: Chunk<T>) => {
    let signal = controller.signal;
    if (finishBefore) {
      const stopper = new AbortController();
      stoppers.set(chunk.index, stopper);
      signal = stopper.signal;
    }
    const promise = run(chunk, signal).then(
      (results) => {
        const done = { chunk: chunk.index, start: chunk.start, results };
        const weight = results.length * estimateItemBytes(results);
        stoppers.delete(chunk.index);
        running.delete(chunk.index);
        finished.set(chunk.index, done);
        weights.set(chunk.index, weight);
        held += weight;
        wake();
        return done;
      },
      (error) => {
        stoppers.delete(chunk.index);
        running.delete(chunk.index);
        fail(chunk, error);
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
        // A stop (an abort, the pool closing) does not wait for input that may never come: it is the failure.
        if (controller.signal.aborted) {
          failure ??= controller.signal.reason;
          break;
        }
        let next: IteratorResult<Chunk<T>>;
        abandoned = true;
        try {
          next = await untilAborted(source.next(), controller.signal);
        } catch (error) {
          if (!controller.signal.aborted) {
            abandoned = false;
            throw error; // the input itself failed
          }
          failure ??= controller.signal.reason;
          break;
        }
        abandoned = false;
        if (next.done) exhausted = true;
        else launch(next.value);
        // Filling the window is one run of microtasks, and sockets write only after it: after a
        // millisecond of encoding, let the chunks made so far leave before making more.
        if (performance.now() - encodingSince > 1) {
          await setImmediate();
          encodingSince = performance.now();
        }
      }
      if (failure !== undefined) {
        // What was computed before the failure goes first (see the header); in order, only what precedes it.
        const next = ordered ? (nextToYield < failed ? nextToYield : undefined) : finished.keys().next().value;
        if (next !== undefined && finished.has(next)) {
          if (ordered) nextToYield++;
          yield take(next, finished.get(next)!);
          continue;
        }
        if (finishBefore && next !== undefined) {
          await new Promise<void>((resolve) => settle.add(resolve)); // it still runs
          continue;
        }
        const thrown = failure;
        const computed = !ordered || nextToYield === failed ? partial?.(thrown) : undefined;
        if (computed && computed.length > 0) yield { chunk: failed, start: failedStart, results: computed };
        throw thrown;
      }
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
    // Behind a pull still pending (a caller's input waiting for its next item), return() waits for that item:
    // it is asked for, not awaited, so that a stopped map settles whatever its input does.
    if (abandoned) source.return?.(undefined).catch(() => {});
    else await source.return?.();
  }
}
