/** The parts of a pool's stream that depend on the call it serves: which call, what each chunk yields, settling and stacks. */
import type { SettleRules } from "./chunk-job.js";
import type { FilledMapOptions } from "./map-options.js";
import type { ChunkResult } from "./window.js";
import { RemoteError } from "../wire/errors.js";
import { pointAtCaller } from "../wire/remote-stack.js";
import type { SourceRef } from "../wire/function-ref.js";

/** Which call a stream serves: its name in errors, its order, and whether fn takes each item as its arguments. */
export interface StreamCall {
  readonly owner: string;
  readonly ordered: boolean;
  readonly spread?: boolean;
  /** imap, imapUnordered, istarmap: may yield [index, result] (the `indexed` option). */
  readonly streams?: boolean;
}

/** A chunk's results as the stream yields them, and whether its caller asked for indexes. */
export interface StreamedChunk extends ChunkResult<unknown> {
  readonly indexed: boolean;
}

/**
 * Settled chunks for errors: "return" and retryOn (none: a chunk ends at its first error); item errors point at
 * `shipped`'s code. retryOn's predicate is given a submitted call's argument list, even where the batch carries
 * each call's one argument as itself.
 */
export function settleRules(
  opts: FilledMapOptions,
  shipped: { readonly fn: Shipped; readonly ref: SourceRef } | undefined,
  call: StreamCall,
): SettleRules | undefined {
  if (opts.errors !== "return" && opts.retryOn === undefined) return undefined;
  const { retryOn } = opts;
  const asList = retryOn && call.owner === "submit" && call.spread !== true;
  return {
    returnErrors: opts.errors === "return",
    retryOn: asList ? (error, item) => retryOn(error, [item]) : retryOn,
    backoffMs: opts.backoffMs,
    onError: shipped && ((error: RemoteError) => pointAtCaller(error, shipped.fn, shipped.ref)),
  };
}

export type Shipped = (...args: never[]) => unknown;

/** Each result of the chunks, or with `indexed` [index, result]. */
export async function* eachResult(chunks: AsyncGenerator<StreamedChunk>): AsyncGenerator<unknown> {
  for await (const chunk of chunks) {
    if (!chunk.indexed) yield* chunk.results;
    else for (let i = 0; i < chunk.results.length; i++) yield [chunk.start + i, chunk.results[i]];
  }
}
