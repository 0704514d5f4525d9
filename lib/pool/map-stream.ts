/**
 * One map's run, for every call of the pool (map, imap, starmap, submit's batches): its options
 * filled, its function shipped, its chunks through the window to the job servers, its progress
 * and worker output reported, and its end said to dashboards.
 *
 *   fn, items, options ──fillMapOptions──► chunksOf ──runWindow──► runChunkJob (encodeChunkRequest)
 *        each chunk's results ◄──────────────── in order, or as they finish ◄──┘
 *        NodeWatch (no node takes it: NO_NODE) · progress ──► control.progress · output ──► MapOutput (worker-output.ts)
 *   its AbortSignal, or its pool closing (CLOSED) ──stop──► at whatever stage: the chunks cancelled, the input not waited for
 */
import { setMaxListeners } from "node:events";
import type { GearmanClient } from "../gearman/client.js";
import { Codec, encodeChunkRequest } from "../wire/chunk-codec.js";
import { estimateItemBytes } from "../wire/item-bytes.js";
import { toFunctionRef, type FunctionRef, type SourceRef } from "../wire/function-ref.js";
import { RemoteError } from "../wire/errors.js";
import { pointAtCaller } from "../wire/remote-stack.js";
import { ArgumentError } from "../argument-error.js";
import {
  chunksOf,
  knownLength,
  autoChunksize,
  isArrayLike,
  isAsyncIterable,
  isIterable,
  type Chunk,
  type ItemSource,
} from "./chunks.js";
import { runWindow } from "./window.js";
import { runChunkJob } from "./chunk-job.js";
import type { PayloadFiles } from "./payload-files.js";
import { computedBefore } from "./computed-before.js";
import { callsOf } from "../wire/call-text.js";
import { NodeWatch } from "./node-watch.js";
import { mapOutput } from "./worker-output.js";
import {
  fillMapOptions,
  type FilledMapOptions,
  type IterOptions,
  type PoolDefaults,
  type Progress,
} from "./map-options.js";
import type { ChunkPart } from "./settled-chunk.js";
import { settleRules, type Shipped, type StreamCall, type StreamedChunk } from "./stream-call.js";
import { abortError, closedWhileRunning, isItemError, noJobServer, poolClosed, retryLine } from "./errors.js";
import { untilAborted } from "./until-aborted.js";
import { argumentLists } from "./zip.js";
import type { ClusterControl } from "../control/cluster-control.js";
import { labelFunction } from "../wire/labels.js";
import type { MessageGuard } from "../security/message-guard.js";
import type { ClusterKey } from "../security/cluster-key.js";

/** What a map's run needs of its pool. */
export interface MapHost {
  readonly client: GearmanClient;
  readonly control: ClusterControl;
  readonly defaults: PoolDefaults;
  readonly key: ClusterKey | undefined;
  readonly guard: MessageGuard | undefined;
  readonly log: ((line: string) => void) | undefined;
  readonly maxPacketSize: number;
  /** Large requests and responses through files (a local cluster's payload directory). */
  readonly payloadFiles?: PayloadFiles;
  /** Whether the pool is closing: a map then rejects CLOSED (at its first step, for a stream). */
  closed(): boolean;
  /**
   * A map begins: `stop` stops it, as an abort would, when the pool closes while it runs. Returns what
   * to call when it ends.
   */
  enter(stop: () => void): () => void;
  nextMapId(): string;
  /** A source function sent once through shared memory, its key then travelling instead (cache_functions). */
  readonly cacheFunction?: (ref: Extract<FunctionRef, { kind: "source" }>) => Promise<FunctionRef>;
}

/** The chunks' results, in order or as they finish; the map's arguments are checked before anything starts. */
export async function* streamMap(
  host: MapHost,
  fn: unknown,
  items: unknown,
  options: IterOptions | undefined,
  call: StreamCall,
): AsyncGenerator<StreamedChunk> {
  const { owner } = call;
  if (host.closed()) throw poolClosed();
  if (!isIterable(items) && !isAsyncIterable(items)) {
    throw new ArgumentError(
      `${owner} items`,
      `expected an iterable or async iterable, got ${items === null ? "null" : typeof items}`,
    );
  }
  // starmap's argument lists are the caller's: one that is none is refused here, naming its place.
  const source = owner === "starmap" || owner === "istarmap" ? argumentLists(owner, items) : items;
  const opts = fillMapOptions(options, host.defaults, call.streams);
  const ref: FunctionRef = toFunctionRef(fn);
  const shipped = ref.kind === "source" && typeof fn === "function" ? { fn: fn as Shipped, ref } : undefined;
  if (opts.signal?.aborted) throw abortError(opts.signal.reason);

  // One way to stop a map from outside, whatever stage it is in: its signal, and its pool closing (CLOSED).
  const controller = new AbortController();
  setMaxListeners(0, controller.signal); // one listener per chunk in flight
  let stopped: Error | undefined;
  const stop = (error: Error) => {
    stopped ??= error;
    controller.abort(error);
  };
  const onAbort = () => stop(abortError(opts.signal!.reason));
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  const mapId = host.nextMapId();
  const leave = host.enter(() => {
    stop(closedWhileRunning(owner === "submit" ? "the call" : "the map"));
    // Now, while the channels are open: the map's own end comes after the pool closed them.
    host.control.commands.cancelMap(mapId);
  });
  try {
    yield* runMap({ host, call, items: source, opts, ref, shipped, controller, mapId, stopped: () => stopped });
  } finally {
    leave();
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** What one map's run starts from: its checked arguments, and how it is stopped from outside (`stopped`: why, once it was). */
interface MapRun {
  readonly host: MapHost;
  readonly call: StreamCall;
  readonly items: ItemSource<unknown>;
  readonly opts: FilledMapOptions;
  readonly ref: FunctionRef;
  readonly shipped: { readonly fn: Shipped; readonly ref: SourceRef } | undefined;
  readonly controller: AbortController;
  readonly mapId: string;
  readonly stopped: () => Error | undefined;
}

async function* runMap(run: MapRun): AsyncGenerator<StreamedChunk> {
  const { host, call, items, opts, shipped, controller, mapId, stopped } = run;
  const { owner, ordered, spread = false } = call;
  // imap and istarmap: on a failure, every result before the failing item first (as Python's imap).
  const finishBeforeFailure = ordered && call.streams === true;
  let ref = run.ref;
  try {
    if (!host.client.anyConnected) {
      // Fail fast, naming each server and why, rather than let every chunk wait out its timeout.
      try {
        await host.client.waitForServer("map", controller.signal);
      } catch (error) {
        throw stopped() ?? noJobServer(undefined, undefined, error);
      }
    }
    if (host.cacheFunction && ref.kind === "source")
      ref = await untilAborted(host.cacheFunction(ref), controller.signal);
  } catch (error) {
    throw stopped() ?? error;
  }

  const total = knownLength(items);
  const threads = host.control.nodes.knownThreads();
  const chunksize =
    opts.chunksize === "auto"
      ? autoChunksize(total, threads, isArrayLike(items) ? estimateItemBytes(items) : undefined)
      : opts.chunksize;
  const limit = opts.maxInFlight ?? Math.max(16, threads * 4);
  const memoryVersion = host.control.memory.version;
  const functionName = ref.kind === "source" ? ref.name : ref.kind === "module" ? `${ref.exportName}` : ref.key;

  const label = opts.label;
  const watch =
    opts.waitForNodesMs === false
      ? undefined
      : new NodeWatch(
          () => host.control.nodes.survey(label),
          opts.waitForNodesMs,
          (error) => controller.abort(error),
        );

  let done = 0;
  let failed = 0;
  let retries = 0;
  const progress = host.control.progress.forMap(mapId, functionName, total);
  const report = () => {
    opts.onProgress?.({ done, total, failed, retries } satisfies Progress);
    progress.update(done, failed, retries);
  };
  progress.update(0, 0, 0);
  // A submitted call's errors and output name the call (its arguments), not its place in the batch, an array.
  const callAt = owner === "submit" && Array.isArray(items) ? callsOf(functionName, items, spread) : undefined;
  const output = mapOutput(opts.output, callAt);
  const context = {
    client: host.client,
    mapId,
    functionName,
    gearmanFunction: labelFunction(opts.label),
    timeoutMs: opts.timeoutMs,
    retries: opts.retries,
    onRetry: (chunk: Chunk<unknown>, error: unknown) => {
      retries++;
      host.log?.(`map ${mapId}: ${retryLine(chunk, error, opts.retries)}`);
      report();
    },
    cancelAttempt: (unique: string) => host.control.commands.cancelAttempt(unique),
    onTaken: watch && (() => watch.progress()),
    output,
    key: host.key,
    guard: host.guard,
    unreachable: () => host.client.noServerError(`map ${mapId}`),
    maxPacketSize: host.maxPacketSize,
    payloadFiles: host.payloadFiles,
    settle: settleRules(opts, shipped, call),
    callAt,
  };

  const returnErrors = context.settle?.returnErrors === true;
  const chunks = chunksOf(items, chunksize, controller.signal);
  // Large typed arrays of a request that goes through a payload file are written from where they lie (split-payload.ts).
  const apartBytes = host.payloadFiles && !host.key ? host.payloadFiles.threshold : undefined;
  let finished = false;
  host.payloadFiles?.mapStarted();
  try {
    const results = runWindow<unknown, unknown>(chunks, {
      limit,
      ordered,
      controller,
      finishBeforeFailure,
      partial: computedBefore,
      run: (chunk, signal) =>
        runChunkJob(
          context,
          chunk,
          (part: ChunkPart) =>
            encodeChunkRequest(
              {
                fn: ref,
                items: part.items,
                start: part.start,
                indexes: part.indexes,
                mapId,
                chunk: chunk.index,
                memoryVersion,
                output: output !== undefined,
                calls: callAt && functionName,
                spread,
                settle: context.settle !== undefined,
              },
              Codec.V8,
              apartBytes,
            ),
          signal,
        ).catch((error: unknown) => {
          // A chunk stopped because the map stops (another failed, an abort) did not fail itself.
          if (!signal.aborted) {
            failed += error instanceof RemoteError ? 1 : chunk.items.length;
            report();
          }
          throw error;
        }),
    });
    for await (const chunk of results) {
      done += chunk.results.length;
      // Under errors: "return" an item that failed is a result too (its error), and counts in both.
      if (returnErrors) failed += errorsAmong(chunk.results);
      report();
      yield { ...chunk, indexed: opts.indexed };
    }
    finished = true;
    progress.end("finished");
  } catch (error) {
    const thrown = stopped() ?? watch?.error ?? error;
    if (thrown instanceof RemoteError && shipped) pointAtCaller(thrown, shipped.fn, shipped.ref);
    // The map's end for dashboards, with the reason its caller gets.
    progress.end("failed", thrown instanceof Error ? thrown.message : String(thrown));
    throw thrown;
  } finally {
    host.payloadFiles?.mapEnded();
    watch?.stop();
    if (!finished) {
      // Not an error (ended above): the caller stopped reading the results before the end.
      progress.end("failed", "stopped before its end: its results were no longer read");
      host.control.commands.cancelMap(mapId);
    }
  }
}

/** The results of a settled chunk under errors: "return" that are its items' errors (isItemError). */
function errorsAmong(results: ArrayLike<unknown>): number {
  // Number results (a typed array) hold no error.
  if (!Array.isArray(results)) return 0;
  let count = 0;
  for (const result of results) if (isItemError(result)) count++;
  return count;
}
