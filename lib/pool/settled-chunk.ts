/**
 * A settled chunk across its attempts (request flag FLAG_SETTLE: every item runs, and each one's
 * error comes back in its place): the outcome of each of its items so far, and which of them the
 * next attempt carries. An attempt after a retryOn error carries only the items whose errors are
 * to be retried, so nothing that succeeded runs again.
 *
 *   attempt 1: every item ──► outcomes (values, RemoteErrors) ──► retryable errors? ──► their positions are pending
 *   attempt n: the pending items (with their indexes when not consecutive) ──► merged into outcomes ──► ...
 *   before attempt 1 (errors: "return"): items that cannot be sent are refused, each its refusal as its outcome,
 *   and attempt 1 carries the others (item-refusals.ts)
 */
import type { ItemFailure } from "../wire/chunk-response.js";
import type { RemoteError } from "../wire/errors.js";
import type { Chunk } from "./chunks.js";

/** The items one attempt carries: consecutive ones from `start`, or the ones at `indexes`. */
export interface ChunkPart {
  readonly items: ArrayLike<unknown>;
  /** Index of items[0] within the whole map. */
  readonly start: number;
  /** Each item's index within the whole map, when they are not consecutive. */
  readonly indexes?: readonly number[];
}

export interface Merged {
  /** Errors retryOn matched, in item order: their items are what the next attempt carries. */
  readonly retry: RemoteError[];
  /** The first error retryOn did not match (or that came with no retryOn). */
  readonly kept: RemoteError | undefined;
}

export class SettledChunk {
  /** Each item's value or RemoteError, by position in the chunk; filled by the first attempt. */
  private outcomes: unknown[] | undefined = undefined;
  /** Positions the next attempt carries; undefined: all. */
  private pending: readonly number[] | undefined = undefined;
  /** Refused items' outcomes (refuse), by position; undefined when none was. */
  private refused: Error[] | undefined = undefined;

  constructor(private readonly chunk: Chunk<unknown>) {}

  /** What the next attempt carries. */
  part(): ChunkPart {
    const { chunk, pending } = this;
    if (pending === undefined) return chunk;
    if (pending.length === 0) return { items: [], start: chunk.start };
    const start = chunk.start + pending[0];
    const consecutive = pending.every((p, i) => p === pending[0] + i);
    return {
      items: pending.map((p) => chunk.items[p]),
      start,
      ...(consecutive ? {} : { indexes: pending.map((p) => chunk.start + p) }),
    };
  }

  /**
   * Settles the items of `refusals` (by index in the map; `start`: the chunk's first) with their errors
   * before any attempt: they cannot be sent (item-refusals.ts), so no attempt carries them. False when
   * none of them is among the items still to go.
   */
  refuseAll(refusals: ReadonlyMap<number, Error>, start: number): boolean {
    if (this.outcomes !== undefined || refusals.size === 0) return false;
    const pending = this.pending ?? Array.from(this.chunk.items, (_, p) => p);
    let refusedAny = false;
    this.pending = pending.filter((p) => {
      const error = refusals.get(start + p);
      if (error === undefined) return true;
      this.refused ??= new Array(this.chunk.items.length);
      this.refused[p] = error;
      refusedAny = true;
      return false;
    });
    return refusedAny;
  }

  /**
   * Takes one attempt's results and errors (`errorOf` makes an item's RemoteError from its absolute
   * index); the items whose errors `retryable` accepts (given each one's item) become the pending ones.
   */
  merge(
    results: unknown[],
    failures: readonly ItemFailure[] | undefined,
    errorOf: (index: number, failure: ItemFailure) => RemoteError,
    retryable: ((error: RemoteError, item: unknown) => boolean) | undefined,
  ): Merged {
    const positions = this.pending;
    let outcomes = this.outcomes;
    if (outcomes === undefined && this.refused !== undefined) {
      // The first attempt carried all but the refused items: their refusals keep their places.
      outcomes = this.outcomes = this.refused.slice();
      for (let i = 0; i < results.length; i++) outcomes[positions![i]] = results[i];
    } else if (outcomes === undefined) outcomes = this.outcomes = results;
    else for (let i = 0; i < results.length; i++) outcomes[positions![i]] = results[i];
    const retry: RemoteError[] = [];
    const again: number[] = [];
    let kept: RemoteError | undefined;
    for (const failure of failures ?? []) {
      const position = positions ? positions[failure.at] : failure.at;
      const error = errorOf(this.chunk.start + position, failure);
      outcomes[position] = error;
      if (retryable?.(error, this.chunk.items[position])) {
        retry.push(error);
        again.push(position);
      } else kept ??= error;
    }
    this.pending = again.length > 0 ? again : undefined;
    return { retry, kept };
  }

  /** Every item's outcome, with `error` in the place of each one no attempt settled (all `count` before the first, but the refused). */
  unsettled(error: unknown, count: number): unknown[] {
    if (this.outcomes === undefined && this.refused !== undefined)
      return Array.from({ length: count }, (_, p) => this.refused![p] ?? error);
    if (this.outcomes === undefined) return new Array(count).fill(error);
    for (const position of this.pending ?? []) this.outcomes[position] = error;
    return this.outcomes;
  }

  /** Every item's outcome: a value, or its RemoteError (or refusal). */
  get results(): unknown[] {
    return this.outcomes ?? this.refused?.slice() ?? [];
  }

  /** The outcomes before the first item (in order) that failed. */
  beforeFirst(isError: (value: unknown) => value is RemoteError): unknown[] {
    const outcomes = this.outcomes ?? [];
    const first = outcomes.findIndex(isError);
    return first < 0 ? outcomes : outcomes.slice(0, first);
  }

  /** The error of the first item (in order) that failed, if any. */
  firstError(isError: (value: unknown) => value is RemoteError): RemoteError | undefined {
    return this.outcomes?.find(isError);
  }
}
