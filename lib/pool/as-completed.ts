/**
 * asCompleted: promises in the order they settle, as concurrent.futures.as_completed and Dask's
 * as_completed give futures. A JavaScript promise has no result() to call later, and an async
 * generator that yields a rejected promise throws, ending the loop at the first failure; so each
 * one comes as the record Promise.allSettled makes ({ status, value } or { status, reason }), with
 * its index in the input and the promise itself: one loop sees every outcome and knows whose it is.
 */
import { ArgumentError } from "../argument-error.js";
import { isIterable } from "./chunks.js";

export type Completed<T> = (PromiseFulfilledResult<T> | PromiseRejectedResult) & {
  /** The promise's position in the input. */
  readonly index: number;
  readonly promise: PromiseLike<T>;
};

export interface AsCompletedOptions {
  /** Aborting it ends the iteration with an AbortError (the promises themselves go on). */
  readonly signal?: AbortSignal;
}

export async function* asCompleted<P>(
  promises: Iterable<P>,
  options: AsCompletedOptions = {},
): AsyncGenerator<Completed<Awaited<P>>> {
  if (!isIterable(promises))
    throw new ArgumentError(
      "asCompleted promises",
      "expected an iterable of promises, e.g. an array of pool.submit(...)",
    );
  const { signal } = options;
  const settled: Completed<Awaited<P>>[] = [];
  let wake: (() => void) | undefined;
  let count = 0;
  for (const item of promises) {
    const index = count++;
    const promise = Promise.resolve(item) as Promise<Awaited<P>>;
    void promise
      .then(
        (value) => settled.push({ status: "fulfilled", value, index, promise }),
        (reason: unknown) => settled.push({ status: "rejected", reason, index, promise }),
      )
      .then(() => wake?.());
  }
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (let given = 0; given < count;) {
      if (signal?.aborted) throw aborted(signal.reason);
      if (given === settled.length) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const next = settled[given];
      settled[given++] = undefined!;
      yield next;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/** The AbortError the iteration ends with: the signal's own reason when it is one, else one whose cause is the reason. */
function aborted(reason: unknown): unknown {
  if (reason instanceof Error && reason.name === "AbortError") return reason;
  const error = new DOMException(`asCompleted was aborted: ${(reason as Error)?.message ?? reason}`, "AbortError");
  Object.defineProperty(error, "cause", { value: reason, configurable: true });
  return error;
}
