/**
 * A settled chunk on its worker thread (request flag FLAG_SETTLE, docs/wire-format.md): every item
 * runs, and an item that throws, or whose result cannot travel, has its error in its place while
 * the others keep theirs. What the pool's `errors: "return"`, `retryOn` and futures need: one
 * item's failure costs no other item its result.
 */
import type { DecodedChunkRequest } from "../wire/chunk-codec.js";
import type { ItemFailure } from "../wire/chunk-response.js";
import { serializeError } from "../wire/remote-error.js";
import { refuseResultInstances, resultNotSendable } from "./errors.js";

export interface Settled {
  /** One per item; undefined where the item failed. */
  readonly results: unknown[];
  readonly errors: ItemFailure[];
}

export async function runSettled(
  fn: (...args: unknown[]) => unknown,
  request: Pick<DecodedChunkRequest, "items" | "spread">,
  beforeItem?: (position: number) => void,
): Promise<Settled> {
  const { items, spread } = request;
  const results: unknown[] = [];
  const errors: ItemFailure[] = [];
  for (let i = 0; i < items.length; i++) {
    beforeItem?.(i);
    try {
      let result = spread ? fn(...(items[i] as unknown[])) : fn(items[i]);
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === "function")
        result = await (result as PromiseLike<unknown>);
      refuseResultInstances(result);
      results.push(result);
    } catch (error) {
      results.push(undefined);
      errors.push({ at: i, error: serializeError(error) });
    }
  }
  return { results, errors };
}

/**
 * Encodes the settled chunk with `encode`; when a result cannot be serialized, each one that cannot
 * becomes its item's error (RESULT_NOT_SENDABLE) and the rest are sent.
 */
export function sendSettled<B>(settled: Settled, encode: (settled: Settled) => B): B {
  try {
    return encode(settled);
  } catch (error) {
    const results = settled.results.slice();
    const errors = settled.errors.slice();
    for (let i = 0; i < results.length; i++) {
      try {
        structuredClone(results[i]);
      } catch (itemError) {
        results[i] = undefined;
        errors.push({ at: i, error: serializeError(resultNotSendable(itemError)) });
      }
    }
    if (errors.length === settled.errors.length) throw error;
    errors.sort((a, b) => a.at - b.at);
    return encode({ results, errors });
  }
}
