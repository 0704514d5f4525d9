/**
 * Futures: pool.submit(fn, ...args) and pool.apply(fn, args, options), a promise per call, batched
 * underneath so that a loop of calls costs what one map over them costs.
 *
 *   apply(fn, args, options) ──► the batch of (fn's reference, options) ──► a promise per call
 *        at the end of this turn of the event loop (setImmediate), each batch ──► one settled map of its argument
 *        lists (chunked as map chunks them), its chunks yielded as they finish
 *        ──► each call's promise settles: its value │ its RemoteError │ its chunk's PoolError
 *            │ its own refusal, naming it (an argument that cannot be sent: ItemSerializationError, or alone over
 *              maxPacketSize: PoolError TOO_LARGE; item-refusals.ts), the batch's other calls going on
 *   a failure of the whole map (an abort, a closed pool, a refused chunk) ──► every call not yet settled rejects with it
 *   the pool closing ──► every call of this turn not yet sent rejects with CLOSED, as its batch's would
 *
 * Calls batch by what travels: the function's reference (two closures with one source are one
 * function on the workers) and the options (the same AbortSignal object, label, limits), so
 * aborting a signal stops exactly the calls made with it.
 */
import { setImmediate } from "node:timers";
import { toFunctionRef, type FunctionRef } from "../wire/function-ref.js";
import { instance, oneOf, optionsSchema, whole, type RulesOf } from "../options-schema.js";
import { labelRule } from "../wire/labels.js";
import { ArgumentError, shown } from "../argument-error.js";
import { outputRule, retryOnRule, type MapOptions } from "./map-options.js";
import { abortError, isItemError } from "./errors.js";

/** Options of apply: those of map that make sense for one call. */
export type SubmitOptions = Pick<
  MapOptions,
  "signal" | "label" | "timeout" | "retries" | "retryOn" | "backoff" | "chunksize" | "output"
>;

const SUBMIT = optionsSchema("apply", {
  signal: instance(AbortSignal, "an AbortSignal").optional(),
  label: labelRule.optional(),
  timeout: whole(1).optional(),
  retries: whole(0).optional(),
  retryOn: retryOnRule.optional(),
  backoff: whole(0).optional(),
  chunksize: whole(1).or(oneOf("auto")).optional(),
  output: outputRule.optional(),
} satisfies RulesOf<SubmitOptions>);

/** Runs one batch as a settled map (errors: "return"), yielding its chunks as they finish. */
export type BatchRun = (
  fn: unknown,
  items: unknown[],
  spread: boolean,
  options: SubmitOptions | undefined,
) => AsyncIterable<{ readonly start: number; readonly results: ArrayLike<unknown> }>;

/**
 * The calls of one function and options in this turn. Their promises and what settles them live
 * until their chunk's results come: one resolve per call is kept (a rejection resolves it with a
 * rejected promise), and a call's argument list only when some call has other than one argument,
 * so a loop of calls leaves the collector little to carry.
 */
interface Batch {
  readonly fn: unknown;
  readonly options: SubmitOptions | undefined;
  /** Each call's argument, or (spread) its argument list. */
  items: unknown[];
  spread: boolean;
  /** Each call's resolve, by its position in the batch; undefined once settled. */
  readonly resolves: (((value: unknown) => void) | undefined)[];
}

/** A function as last seen: a loop that makes a new closure of one source each time checks it once. */
interface Seen {
  fn: unknown;
  readonly name: string;
  readonly source: string;
  ref: FunctionRef | undefined;
  error: unknown;
}

export class SubmitBatcher {
  /** The batches of this turn, by function reference, then by options. */
  private batches = new Map<FunctionRef, Map<string, Batch>>();
  private scheduled = false;
  private seen: Seen | undefined = undefined;
  /** Ids of the objects options hold (signals, predicates), for batch keys. */
  private readonly ids = new WeakMap<object, number>();
  private nextId = 0;

  constructor(private readonly run: BatchRun) {}

  /** The batch the last call without options went to, and its function object: a loop's next call goes there at once. */
  private lastFn: unknown = undefined;
  private lastBatch: Batch | undefined = undefined;

  /** A promise of fn(...args): rejects at once for a function that cannot travel, bad options or an aborted signal. */
  submit(fn: unknown, args: readonly unknown[], options: SubmitOptions | undefined): Promise<unknown> {
    // A loop of calls of one function object without options: no lookup, no check made again.
    if (fn === this.lastFn && options === undefined && this.lastBatch !== undefined && Array.isArray(args))
      return this.add(this.lastBatch, args);
    let ref: FunctionRef;
    let key = "";
    try {
      if (!Array.isArray(args))
        throw new ArgumentError("apply args", `expected an array of arguments, got ${shown(args)}`);
      if (options !== undefined) {
        SUBMIT.check(options);
        if (options.signal?.aborted) throw abortError(options.signal.reason, "the call");
        key = this.optionsKey(options);
      }
      ref = this.refOf(fn);
    } catch (error) {
      return Promise.reject(error);
    }
    let byOptions = this.batches.get(ref);
    if (!byOptions) this.batches.set(ref, (byOptions = new Map()));
    let batch = byOptions.get(key);
    if (!batch) byOptions.set(key, (batch = { fn, options, items: [], spread: false, resolves: [] }));
    if (options === undefined) {
      this.lastFn = fn;
      this.lastBatch = batch;
    }
    return this.add(batch, args);
  }

  /** Adds one call to its batch: its argument (or argument list) and its resolve. */
  private add(batch: Batch, args: readonly unknown[]): Promise<unknown> {
    // One argument each: the items travel as themselves (numbers packed), as a map's would.
    if (batch.spread) batch.items.push(args);
    else if (args.length === 1) batch.items.push(args[0]);
    else {
      batch.items = batch.items.map((item) => [item]);
      batch.items.push(args);
      batch.spread = true;
    }
    const { resolves } = batch;
    const promise = new Promise<unknown>((resolve) => resolves.push(resolve));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return promise;
  }

  /** fn's reference (toFunctionRef), or the refusal it throws, found once for a run of calls with one function. */
  private refOf(fn: unknown): FunctionRef {
    let seen = this.seen;
    if (seen === undefined || seen.fn !== fn) {
      const source = typeof fn === "function" ? Function.prototype.toString.call(fn) : "";
      const name = typeof fn === "function" ? fn.name : "";
      if (seen === undefined || source === "" || seen.source !== source || seen.name !== name) {
        seen = this.seen = { fn, name, source, ref: undefined, error: undefined };
        try {
          seen.ref = toFunctionRef(fn);
        } catch (error) {
          seen.error = error;
        }
      } else seen.fn = fn;
    }
    if (seen.ref === undefined) throw seen.error;
    return seen.ref;
  }

  private idOf(value: object): number {
    let id = this.ids.get(value);
    if (id === undefined) this.ids.set(value, (id = ++this.nextId));
    return id;
  }

  private optionsKey(options: SubmitOptions): string {
    const { signal, label, timeout, retries, retryOn, backoff, chunksize, output } = options;
    const on = typeof retryOn === "function" ? `#${this.idOf(retryOn)}` : JSON.stringify(retryOn);
    const out = typeof output === "function" ? `#${this.idOf(output)}` : output;
    return [signal && this.idOf(signal), label, timeout, retries, on, backoff, chunksize, out].join("\0");
  }

  /** The pool closes: every call of this turn not yet sent rejects with `error()`; calls already sent stop with their maps. */
  close(error: () => Error): void {
    const batches = this.batches;
    this.batches = new Map();
    this.seen = undefined;
    this.lastFn = this.lastBatch = undefined;
    for (const byOptions of batches.values())
      for (const batch of byOptions.values()) {
        const rejected = Promise.reject(error());
        rejected.catch(() => {});
        batch.resolves.forEach((resolve) => resolve?.(rejected));
      }
  }

  private flush(): void {
    this.scheduled = false;
    const batches = this.batches;
    this.batches = new Map();
    this.seen = undefined;
    this.lastFn = this.lastBatch = undefined;
    for (const byOptions of batches.values()) for (const batch of byOptions.values()) void this.runBatch(batch);
  }

  private async runBatch(batch: Batch): Promise<void> {
    const { resolves } = batch;
    try {
      for await (const { start, results } of this.run(batch.fn, batch.items, batch.spread, batch.options)) {
        for (let i = 0, at = start; i < results.length; i++, at++) {
          const result = results[i];
          resolves[at]!(isItemError(result) ? Promise.reject(result) : result);
          resolves[at] = undefined;
        }
      }
    } catch (error) {
      // The batch's map is the calls' own business: an abort is said of the calls.
      const signal = batch.options?.signal;
      const rejected = Promise.reject(signal?.aborted ? abortError(signal.reason, "the call") : error);
      rejected.catch(() => {});
      resolves.forEach((resolve) => resolve?.(rejected));
    }
  }
}
