/** Options of one map / imap / imapUnordered call, validated once into a filled, frozen form. */
import { ArgumentError, wholeNumber } from "../argument-error.js";
import { labelProblem } from "../wire/labels.js";

export interface Progress {
  /** Items whose results have arrived. */
  readonly done: number;
  /** Number of items in the map, when known up front (arrays, sets, maps, typed arrays). */
  readonly total: number | undefined;
  /** Retries spent so far: chunks taken again after their node was lost, or submitted again after a failure or a timeout. */
  readonly failed: number;
}

export interface MapOptions {
  /** Items per Gearman job: a whole number, or "auto" (about four chunks per worker thread). Default: the pool's `chunksize`. */
  chunksize?: number | "auto";
  /** Aborting it removes queued chunks from the job server, stops running ones on the workers and rejects with an AbortError. */
  signal?: AbortSignal;
  /**
   * How long one attempt of a chunk may go without finishing, in ms, counted from its submission and
   * again each time a node takes it (not a total for the map). Past it the attempt is cancelled on the
   * job server and the nodes, and retried. Default: the pool's poll_timeout.
   */
  timeout?: number;
  /**
   * The one retry setting: a chunk is taken by worker nodes at most 1 + retries times. Each time its node
   * is lost (whether the job server hands it out again or the pool submits it again), it times out, its
   * job server is lost or its response cannot be trusted spends one (docs/robustness.md). Default: the pool's max_retries.
   */
  retries?: number;
  /** Called after every chunk that finishes, and after every retry. */
  onProgress?: (progress: Progress) => void;
  /**
   * Chunks running at once (imap's window: with the results held for in-order output, at most 8 MiB,
   * it bounds memory for endless inputs; a chunk stuck behind never stops the others). Default: 4 per
   * known worker thread, at least 16.
   */
  maxInFlight?: number;
  /**
   * Run every chunk on nodes with this label only (Gearman function glimpse_map:LABEL; docs/labels.md).
   * While no node carries it the chunks wait in the queue. Default: none (glimpse_map, any non-exclusive node).
   */
  label?: string;
  /**
   * Before submitting, wait at most this many ms for a live node that serves the map (carries its label,
   * or for an unlabelled map is not exclusive); none by then: reject with PoolError NO_NODE naming the
   * label and the labels live nodes carry. Default: no check (the chunks wait in the queue).
   */
  waitForNodesMs?: number;
}

export interface PoolDefaults {
  readonly chunksize: number | "auto";
  readonly timeoutMs: number;
  readonly retries: number;
}

export interface FilledMapOptions {
  readonly chunksize: number | "auto";
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly onProgress: ((progress: Progress) => void) | undefined;
  readonly maxInFlight: number | undefined;
  readonly label: string | undefined;
  readonly waitForNodesMs: number | undefined;
}

const KNOWN: readonly (keyof MapOptions)[] = [
  "chunksize",
  "signal",
  "timeout",
  "retries",
  "onProgress",
  "maxInFlight",
  "label",
  "waitForNodesMs",
];

const option = (name: string) => `map option ${name}`;

/** Checks every option (unknown keys too) against the pool's defaults. Throws ArgumentError naming the option. */
export function fillMapOptions(options: MapOptions | undefined, defaults: PoolDefaults): FilledMapOptions {
  const o = options ?? {};
  if (o === null || typeof o !== "object")
    throw new ArgumentError("map options", `expected an object, got ${o === null ? "null" : typeof o}`);
  for (const key of Object.keys(o)) {
    if (!(KNOWN as readonly string[]).includes(key))
      throw new ArgumentError(option(key), `unknown (known: ${KNOWN.join(", ")})`);
  }
  const chunksize =
    o.chunksize === undefined
      ? defaults.chunksize
      : o.chunksize === "auto"
        ? "auto"
        : wholeNumber(option("chunksize"), o.chunksize, 1);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal))
    throw new ArgumentError(option("signal"), "expected an AbortSignal");
  if (o.onProgress !== undefined && typeof o.onProgress !== "function")
    throw new ArgumentError(option("onProgress"), "expected a function");
  const labelError = o.label === undefined ? undefined : labelProblem(o.label);
  if (labelError !== undefined) throw new ArgumentError(option("label"), labelError);
  return Object.freeze({
    chunksize,
    signal: o.signal,
    timeoutMs: o.timeout === undefined ? defaults.timeoutMs : wholeNumber(option("timeout"), o.timeout, 1),
    retries: o.retries === undefined ? defaults.retries : wholeNumber(option("retries"), o.retries, 0),
    onProgress: o.onProgress,
    maxInFlight: o.maxInFlight === undefined ? undefined : wholeNumber(option("maxInFlight"), o.maxInFlight, 1),
    label: o.label,
    waitForNodesMs:
      o.waitForNodesMs === undefined ? undefined : wholeNumber(option("waitForNodesMs"), o.waitForNodesMs, 0),
  });
}
