/**
 * `retryOn`: which errors a mapped function throws are worth another attempt (a flaky service's
 * ECONNRESET), and the backoff before each. The retries themselves are the chunk's, counted by the
 * one retry engine under ChunkRules (chunk-job.ts): this file only answers "this error?" and "how long?".
 */
import type { RemoteCause, RemoteError } from "../wire/errors.js";

/**
 * Names or codes (matched against the remote error and its causes), or a predicate on what the function threw (its
 * RemoteCause), the item it threw on (for starmap, a submitted call and map over several iterables: the argument
 * list) and the RemoteError that carries both (where it ran).
 */
export type RetryOn = readonly string[] | ((error: RemoteCause, item: unknown, remote: RemoteError) => boolean);

/** Whether an item's RemoteError is to be retried; `item` is the item (or argument list) it threw on. */
export type RetryMatcher = (error: RemoteError, item: unknown) => boolean;

/** The first backoff when the map gives none, in ms. */
export const DEFAULT_BACKOFF_MS = 100;
/** No pause is longer, however many retries came before. */
export const MAX_BACKOFF_MS = 30_000;

/** Causes looked at below the remote error itself (serializeError keeps 8). */
const CAUSE_DEPTH = 8;

export function retryMatcher(retryOn: RetryOn): RetryMatcher {
  if (typeof retryOn === "function") return (error, item) => retryOn(error.cause as RemoteCause, item, error) === true;
  const wanted = new Set(retryOn);
  return (error) => {
    let cause = error.cause as { name?: unknown; code?: unknown; cause?: unknown } | undefined;
    for (let depth = 0; cause != null && depth <= CAUSE_DEPTH; depth++) {
      if (wanted.has(String(cause.name)) || (cause.code !== undefined && wanted.has(String(cause.code)))) return true;
      cause = cause.cause as typeof cause;
    }
    return false;
  };
}

/**
 * The pause before the `retry`-th retry of a chunk for an error retryOn matched: `baseMs` doubled
 * for each retry before it (exponential, as BullMQ's), at most MAX_BACKOFF_MS, spread by ±20 % so
 * the chunks that failed together on one flaky service do not all come back at the same moment.
 */
export function backoffMs(baseMs: number, retry: number): number {
  if (baseMs === 0) return 0;
  const exact = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exact * (0.8 + 0.4 * Math.random()));
}
