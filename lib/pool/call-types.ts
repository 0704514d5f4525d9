/**
 * The types of the pool's calls that take several arguments or return each item's outcome:
 * starmap's and submit's functions, map over several iterables, and what `errors: "return"` and
 * `indexed: true` make of a result. Types only.
 */
import type { ModuleFunction } from "../wire/function-ref.js";
import type { ItemSerializationError, RemoteError } from "../wire/errors.js";
import type { PoolError } from "../pool-error.js";
import type { ItemSource } from "./chunks.js";

/**
 * A function called with several arguments (starmap's tuples, submit's arguments, one item of each
 * of map's iterables): a plain function, or a module function whose item type is the tuple of its
 * arguments (`moduleFunction<[number, string], R>`), or, for one argument, that argument's type.
 */
export type SpreadFunction<A extends readonly unknown[], R> =
  | ((...args: A) => R | Promise<R>)
  | ModuleFunction<A, R>
  | (A extends readonly [infer T] ? ModuleFunction<T, R> : never);

/** One iterable (or async iterable) per argument of a function taking `A`. */
export type Sources<A extends readonly unknown[]> = { [K in keyof A]: ItemSource<A[K]> };

/**
 * What takes an item's place under `errors: "return"` when it failed: its function threw (RemoteError), its chunk was
 * given up or too large (PoolError CHUNK_FAILED, CHUNK_TIMEOUT, TOO_LARGE), or it could not be sent
 * (ItemSerializationError; PoolError TOO_LARGE for an item alone over max_packet_size).
 */
export type ItemError = RemoteError | PoolError | ItemSerializationError;

/** What `errors` is: "raise" or "return". */
export type ErrorsMode = "raise" | "return";

/** An item's result when the options' `errors` is E: with "return" (or a mode not known), its error may stand in its place. */
export type Outcome<R, E extends ErrorsMode> = "return" extends E ? R | ItemError : R;

/** What imap and imapUnordered yield: the outcome, or with `indexed: true` (I) [index, outcome]. */
export type Yielded<R, E extends ErrorsMode, I extends boolean> = [I] extends [true]
  ? [number, Outcome<R, E>]
  : true extends I
    ? [number, Outcome<R, E>] | Outcome<R, E>
    : Outcome<R, E>;
