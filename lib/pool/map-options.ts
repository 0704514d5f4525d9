/** Options of one map / imap / imapUnordered call, validated once into a filled, frozen form (lib/options-schema.ts). */
import { flag, func, instance, list, oneOf, optionsSchema, text, whole, type RulesOf } from "../options-schema.js";
import { labelRule } from "../wire/labels.js";
import type { OutputOption, WorkerOutput } from "./worker-output.js";
import { DEFAULT_BACKOFF_MS, retryMatcher, type RetryMatcher, type RetryOn } from "./retry-on.js";

export interface Progress {
  /** Items whose results have arrived. */
  readonly done: number;
  /** Number of items in the map, when known up front (arrays, sets, maps, typed arrays). */
  readonly total: number | undefined;
  /**
   * Items that failed: the item whose function threw, and every item of a chunk that failed past its
   * retries (its node lost, timed out or refused it). Default maps end at the first.
   */
  readonly failed: number;
  /** Retries spent so far: chunks taken again after their node was lost, or submitted again after a failure or a timeout. */
  readonly retries: number;
}

export interface MapOptions {
  /**
   * Items per Gearman job: a whole number, or "auto" (chunks grow as the square root of the map's bytes, so that
   * enough are in flight to keep every stage busy; at least four per worker thread, none over about 1 MiB:
   * autoChunksize, chunks.ts). Default: the pool's `chunksize`.
   */
  chunksize?: number | "auto";
  /**
   * Aborting it removes queued chunks from the job server, stops running ones on the workers and rejects
   * with a DOMException named AbortError whose cause is the signal's reason, said in its message.
   */
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
  /** Called after every chunk that finishes, every retry and every failure. */
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
   * Patience for worker nodes: when this many ms pass with no chunk of the map taken by a node (from
   * its start, or from its last take), the job servers are asked (admin `workers`) whether a live node
   * serves the map (registered glimpse_map, or glimpse_map:LABEL for a labelled map); none: the map
   * rejects with PoolError NO_NODE naming the function, the job servers and the labels live nodes carry.
   * `false`: never ask (the chunks wait in the queue for a node, as for labelled nodes started on
   * demand; poll_timeout bounds each wait). Default: the pool's wait_for_nodes (30 s).
   */
  waitForNodesMs?: number | false;
  /**
   * The functions' console output on the workers (console.log, console.error, ...): true writes each line
   * to this process's stdout or stderr after "(host:pid item N) "; a function gets each line instead; false
   * leaves it on the worker nodes' own output. A node forwards at most 200 lines a second (bursts of 500)
   * and reports what it dropped. Default: the pool's (MakePool's `output` option), else true.
   */
  output?: OutputOption;
  /**
   * What an item whose function threw (or whose chunk was given up after its retries) gives:
   * "raise" (the default): the map rejects with the first such error (RemoteError, PoolError);
   * "return": that error object in the item's place, every other item's result kept (as Dask's
   * gather(errors=...) and Ray's get per reference allow).
   */
  errors?: "raise" | "return";
  /**
   * Errors of the function worth another attempt: names or codes (of the remote error or any of its
   * causes: "ECONNRESET", "TimeoutError"), or a predicate `(error, item, remote)`: what the function threw (its
   * RemoteCause), the item it threw on (an argument list for starmap, map over several iterables and a submitted
   * call) and the RemoteError (where it ran). The items that threw
   * such an error run again after a backoff, each attempt spending one of the chunk's `retries`
   * (docs/robustness.md). Default: none (a function that throws is never retried).
   */
  retryOn?: RetryOn;
  /** The pause before the first retry for an error `retryOn` matched, in ms, doubled for each further one (±20 %, at most 30 s). Default 100. */
  backoff?: number;
}

/** Options of imap and imapUnordered: map's, and whether to yield each result with its index. */
export interface IterOptions extends MapOptions {
  /** Yield [index, result] pairs, index being the item's position in the input (for imapUnordered's results, which come as chunks finish). */
  indexed?: boolean;
}

export interface PoolDefaults {
  readonly chunksize: number | "auto";
  readonly timeoutMs: number;
  readonly retries: number;
  readonly waitForNodesMs: number | false;
  /** Every map's `output` unless it gives its own (MakePool's `output` option). Default true. */
  readonly output?: OutputOption;
}

export interface FilledMapOptions {
  readonly chunksize: number | "auto";
  readonly signal: AbortSignal | undefined;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly onProgress: ((progress: Progress) => void) | undefined;
  readonly maxInFlight: number | undefined;
  readonly label: string | undefined;
  readonly waitForNodesMs: number | false;
  readonly output: OutputOption;
  readonly errors: "raise" | "return";
  readonly retryOn: RetryMatcher | undefined;
  readonly backoffMs: number;
  readonly indexed: boolean;
}

/** The `output` option, of maps and of submitted calls. */
export const outputRule = flag().or(func<(output: WorkerOutput) => void>());
/** The `retryOn` option, of maps and of submitted calls. */
export const retryOnRule = list(text(), "a list of error names or codes, or a predicate", 1).or(
  func<Extract<RetryOn, (...args: never[]) => unknown>>(),
);

const MAP = optionsSchema("map", {
  chunksize: whole(1).or(oneOf("auto")).optional(),
  signal: instance(AbortSignal, "an AbortSignal").optional(),
  timeout: whole(1).optional(),
  retries: whole(0).optional(),
  onProgress: func<(progress: Progress) => void>().optional(),
  maxInFlight: whole(1).optional(),
  label: labelRule.optional(),
  waitForNodesMs: whole(0).or(oneOf(false)).optional(),
  output: outputRule.optional(),
  errors: oneOf("raise", "return").optional(),
  retryOn: retryOnRule.optional(),
  backoff: whole(0).optional(),
  indexed: flag().optional(),
} satisfies RulesOf<IterOptions>);

/**
 * Checks every option (unknown keys too) and fills in the pool's defaults; `streams`: for imap, imapUnordered and
 * istarmap (which may yield indexes). Throws ArgumentError naming the option ("map option ..." for every call of
 * the map family).
 */
export function fillMapOptions(
  options: IterOptions | undefined,
  defaults: PoolDefaults,
  streams = false,
): FilledMapOptions {
  const given = MAP.fill(options ?? {});
  if (given.indexed === true && !streams)
    MAP.refuse("indexed", "only imap, imapUnordered and istarmap yield indexes (map's results are in input order)");
  return Object.freeze({
    chunksize: given.chunksize ?? defaults.chunksize,
    signal: given.signal,
    timeoutMs: given.timeout ?? defaults.timeoutMs,
    retries: given.retries ?? defaults.retries,
    onProgress: given.onProgress,
    maxInFlight: given.maxInFlight,
    label: given.label,
    waitForNodesMs: given.waitForNodesMs ?? defaults.waitForNodesMs,
    output: given.output ?? defaults.output ?? true,
    errors: given.errors ?? "raise",
    retryOn: given.retryOn && retryMatcher(given.retryOn),
    backoffMs: given.backoff ?? DEFAULT_BACKOFF_MS,
    indexed: given.indexed ?? false,
  });
}
