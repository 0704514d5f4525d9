/**
 * One chunk's life as Gearman jobs: a run of the retry engine
 * (lib/gearman/retry-run.ts) under the pool's one retry rule
 * (docs/robustness.md "How many times a chunk runs"), which these rules
 * classify into the engine's words:
 *
 *   attempt n ──GearmanClient.attempt (unique mapId:chunk:n, signed anew)──► job server
 *      │  WORK_STATUS 0/N from the node that takes it ──► the first: PROGRESS (the deadline starts again)
 *      │       a second take of the same job (its server lost the node that had it) ──► Retry, spent inside the attempt
 *      │  taken, then nothing (no heartbeat: WORK_DATA every CHUNK_HEARTBEAT_MS) for CHUNK_SILENT_MS
 *      │       (the engine's silence bound: its node was cut off or hung) ──► given up, cancelled on the nodes ──► Retry
 *      ├─ WORK_COMPLETE ──verify──► decode ──► results │ RemoteError (the function threw: never retried;
 *      │        │                                       the results before the item that threw kept beside it)
 *      │        ├─ a settled chunk (errors: "return", retryOn): each item's outcome (settled-chunk.ts); errors
 *      │        │    retryOn matches ──► Retry after a backoff, carrying only their items (declinable: spent
 *      │        │    out, the outcomes as they are); any other error, unless returned ──► RemoteError
 *      │        └─ a response that does not verify ──► Retry
 *      ├─ a hand-back (a draining node gave it back unrun) ──► a free Retry, FREE_HAND_BACKS times; then one that spends
 *      ├─ a refusal: stale or replayed ──► Retry │ any other (a key mismatch) ──► REFUSED, the map ends
 *      ├─ results too large to send (the node said so) ──► TOO_LARGE, the map ends (another run makes the same)
 *   a request over maxPacketSize is never sent: TOO_LARGE at its first attempt, naming its largest items
 *   (errors: "return": first each item that cannot be sent, or is alone over it, is refused as its outcome: item-refusals.ts)
 *      ├─ WORK_FAIL, an exception ──► Retry
 *      ├─ its job server lost: after a take ──► Retry │ before any (nothing ran, as far as anyone can tell:
 *      │      this client's own link may be the one cut) ──► a free Retry, FREE_SERVER_LOSSES times; then one that spends
 *      ├─ past `timeoutMs` (the engine's deadline) ──► given up, withdrawn, cancelled on the nodes ──► Retry
 *      └─ past `timeoutMs` still waiting for any job server to be connected ──► NO_JOB_SERVER, the map ends
 *             (naming every server and why: another attempt would wait the same; the wait spent nothing)
 *
 * Every Retry but the free hand-backs spends one of `retries`. When none is
 * left the chunk fails (CHUNK_TIMEOUT after a timeout, else CHUNK_FAILED)
 * and the engine gives its attempt up on the job server and the nodes. So a
 * chunk is taken by worker nodes at most 1 + retries times, whatever the
 * job server's own requeue limit.
 */
import { JobError, type GearmanError } from "../gearman/errors.js";
import { RetryRun } from "../gearman/retry-run.js";
import {
  PROGRESS,
  Retry,
  type Attempt,
  type AttemptMaker,
  type AttemptObserver,
  type RetryRules,
} from "../gearman/retry-rules.js";
import { decodeChunkResponseTyped, type ItemFailure, type ResponseMeta } from "../wire/chunk-response.js";
import { isPackedNumbers, unpackNumbers } from "../wire/packed-numbers.js";
import { chunkNonce, signChunkInPlace, verifyChunk } from "../wire/chunk-signing.js";
import { CHUNK_SILENT_MS, TAKEN_NUMERATOR, readHandBack, readRefusal, readTooLarge } from "../wire/protocol.js";
import { largestItems, requestPacketData, tooLargeDetail } from "../wire/packet-limit.js";
import { RemoteError, WireFormatError } from "../wire/errors.js";
import { decodeOutputRecord, type OutputRecord } from "../wire/output-record.js";
import type { SerializedError } from "../wire/remote-error.js";
import { SignatureError, type RefusalReason } from "../security/errors.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { MessageGuard } from "../security/message-guard.js";
import type { Chunk, ChunkResults } from "./chunks.js";
import type { PayloadFiles, SentFiles } from "./payload-files.js";
import { withComputed } from "./computed-before.js";
import { SettledChunk, type ChunkPart } from "./settled-chunk.js";
import { sendablePayload } from "./item-refusals.js";
import { SplitPayload } from "../wire/split-payload.js";
import { backoffMs, type RetryMatcher } from "./retry-on.js";
import {
  attemptTimedOut,
  chunkFailed,
  chunkRefused,
  chunkTimedOut,
  chunkTooLarge,
  abortError,
  handedBackTooOften,
  nodeLost,
  nodeSilent,
  noJobServer,
  PoolError,
  type ChunkDescription,
} from "./errors.js";

/** Refusals a new attempt can get past: it is signed anew, so it is fresh and its nonce new. Any other refusal is a key mismatch. */
const RETRIED_REFUSALS: readonly RefusalReason[] = ["stale", "replayed"];
/** Gearman errors after which a new attempt may succeed. */
const RETRIED_CODES: ReadonlySet<string> = new Set(["JOB_FAILED", "JOB_EXCEPTION", "CONNECTION"]);
/** The one budget of a chunk: the map's `retries`. */
const RETRIES = "retries";

/** Hand-backs of one chunk that spend no retry: more than any sane drain schedule gives, fewer than a node draining and coming back in a loop. */
export const FREE_HAND_BACKS = 16;

/**
 * Job server losses of one chunk before any node took it that spend no retry: a client cut off from
 * every server for a while loses all its connections once, a flapping link a few times; past this,
 * something about the chunk or its server keeps the connection from living (a link that drops every
 * few seconds), and each further loss spends a retry.
 */
export const FREE_SERVER_LOSSES = 16;

export interface ChunkJobContext {
  /** Makes the chunk's attempts: the pool's GearmanClient. */
  readonly client: AttemptMaker;
  readonly mapId: string;
  readonly functionName: string;
  /** The Gearman function the chunks go to: glimpse_map, or glimpse_map:LABEL for a labelled map. */
  readonly gearmanFunction: string;
  /** How long one attempt may go without finishing, from its submission and again from each take, in ms. */
  readonly timeoutMs: number;
  /** Takes and attempts allowed beyond the first (the map's `retries`, `max_retries`). */
  readonly retries: number;
  /** Called each time one of the retries is spent. */
  readonly onRetry: (chunk: Chunk<unknown>, error: unknown) => void;
  /** Tells the worker nodes to stop one attempt (by its job unique id). */
  readonly cancelAttempt: (unique: string) => void;
  /** The largest packet data a job server carries (max_packet_size): a request over it is never sent. */
  readonly maxPacketSize?: number;
  /** Called when a node takes an attempt of the chunk, and when its result comes (the map's NodeWatch). */
  readonly onTaken?: () => void;
  /**
   * Hears the console lines a node sends on an attempt's job, ahead of its result (lib/wire/output-record.ts),
   * and then every response that was verified and decoded (its meta: where it ran, its output tally).
   */
  readonly output?: ChunkOutputListener;
  /** Signs each attempt; responses must then pass `guard`. */
  readonly key?: ClusterKey;
  readonly guard?: MessageGuard;
  /** NO_SERVER naming every job server and why it is not connected (GearmanClient.noServerError), for a chunk that waited past its timeout for any. */
  readonly unreachable?: () => Error;
  /**
   * How a RemoteError names a submitted call, by its index in the batch (callsOf, lib/wire/call-text.ts; its worker
   * output is named by the same function): such an error has no index, as its place in a batch means
   * nothing to its caller. None: `fn(item N)`.
   */
  readonly callAt?: (index: number) => string;
  /** Run every item of each chunk, each one's error in its place (FLAG_SETTLE); none: a chunk ends at its first error. */
  readonly settle?: SettleRules;
  /** A local cluster's payload directory: large requests and responses go through files there, not the job server. */
  readonly payloadFiles?: PayloadFiles;
}

export interface ChunkOutputListener {
  heard(record: OutputRecord): void;
  /** A WORK_DATA that is neither a heartbeat nor a record this pool can read or trust: the line is lost. */
  unreadable(error: WireFormatError | SignatureError): void;
  /** The attempt's response, after `heard` lines of it arrived (its tally says how many were sent, and dropped). */
  responded(chunk: Chunk<unknown>, response: ResponseMeta, heard: number): void;
}

export interface SettleRules {
  /** Each item's RemoteError is its result (errors: "return"); else the first one not retried ends the chunk. */
  readonly returnErrors: boolean;
  /** Errors worth another attempt of their items (retryOn); each such attempt spends one of `retries`. */
  readonly retryOn: RetryMatcher | undefined;
  /** The first pause before such an attempt, in ms, doubled for each one after it. */
  readonly backoffMs: number;
  /** Called with each item's RemoteError as it is made (the pool points its stack at the caller's code). */
  readonly onError?: (error: RemoteError) => void;
}

/**
 * `encode` makes the chunk's request payload for the items an attempt carries (all, but for a
 * settled chunk's retry): once, and again for each retry of a signed chunk (a signature is written
 * into the payload it signs).
 */
export function runChunkJob(
  context: ChunkJobContext,
  chunk: Chunk<unknown>,
  encode: (part: ChunkPart) => Buffer | SplitPayload,
  signal: AbortSignal,
): Promise<ChunkResults<unknown>> {
  const rules = new ChunkRules(context, chunk, encode);
  if (context.settle?.returnErrors)
    try {
      if (!rules.refuseUnsendable()) return Promise.resolve(rules.refusedAll());
    } catch (error) {
      return Promise.reject(error);
    }
  const result = new RetryRun(rules, signal).start().result.finally(() => rules.releaseFiles());
  return context.settle?.returnErrors ? result.catch((error: unknown) => rules.lostItems(error)) : result;
}

/**
 * Chunk failures that are their items' outcomes under errors: "return" (a poison item killed its nodes; a chunk too
 * large to send, or to send back, as a whole); any other ends the map.
 */
const ITEM_LEVEL: ReadonlySet<string> = new Set(["CHUNK_FAILED", "CHUNK_TIMEOUT", "TOO_LARGE"]);

/** The pool's retry rule for one chunk, as hooks of the retry engine. */
export class ChunkRules implements RetryRules<ChunkResults<unknown>> {
  private readonly described: ChunkDescription;
  /** In parts (split-payload.ts) only where it goes through a payload file: a cluster that does not sign. */
  private payload: Buffer | SplitPayload | undefined = undefined;
  /** The request of the current attempt (its nonce checks the response). */
  private request: Buffer | SplitPayload | undefined = undefined;
  /** The payload files of the current attempt, if it went through files (removed when it is over). */
  private files: SentFiles | undefined = undefined;
  /** Take notices of the current attempt. */
  private takes = 0;
  private handBacks = 0;
  /** Job server losses of attempts no node had taken. */
  private untakenLosses = 0;
  /** A settled chunk's outcomes so far (context.settle). */
  private readonly settled: SettledChunk | undefined;
  /** Retries spent on errors retryOn matched: each pauses longer. */
  private errorRetries = 0;
  /** Output lines heard from the current attempt, and the nonces of its signed ones. */
  private linesHeard = 0;
  private recordNonces: Set<string> | undefined = undefined;

  constructor(
    private readonly context: ChunkJobContext,
    private readonly chunk: Chunk<unknown>,
    private readonly encode: (part: ChunkPart) => Buffer | SplitPayload,
  ) {
    this.described = { index: chunk.index, start: chunk.start, size: chunk.items.length };
    this.settled = context.settle && new SettledChunk(chunk);
  }

  /** Under errors: "return": refuses each item that cannot be sent as its outcome (item-refusals.ts); false when none is left to send. */
  refuseUnsendable(): boolean {
    this.payload = sendablePayload(this.context, this.chunk, this.settled!, this.encode);
    return this.payload !== undefined;
  }

  /** The outcomes of a chunk whose every item was refused. */
  refusedAll(): unknown[] {
    return this.settled!.results;
  }

  get attemptTimeoutMs(): number {
    return this.context.timeoutMs;
  }

  /** A node that holds a chunk sends a heartbeat every CHUNK_HEARTBEAT_MS (lib/wire/protocol.ts). */
  get silenceMs(): number {
    return CHUNK_SILENT_MS;
  }

  limit(budget: string): number {
    return budget === RETRIES ? this.context.retries : 0;
  }

  attempt(ordinal: number, observer: AttemptObserver): Attempt {
    const { context } = this;
    const part = this.settled?.part() ?? this.chunk;
    this.payload ??= this.encode(part);
    const request = context.key
      ? signChunkInPlace(whole(ordinal === 1 ? this.payload : this.encode(part)), context.key)
      : this.payload;
    this.request = request;
    this.takes = 0;
    this.linesHeard = 0;
    this.recordNonces = undefined;
    const unique = `${context.mapId}:${this.chunk.index}:${ordinal}`;
    const limit = context.maxPacketSize;
    const size = limit === undefined ? 0 : requestPacketData(request.length, context.gearmanFunction, unique);
    if (limit !== undefined && size > limit) {
      const largest = largestItems(this.chunk.items, this.chunk.start);
      throw chunkTooLarge(this.described, "request", tooLargeDetail("items", size, limit, largest));
    }
    this.releaseFiles();
    const sent = context.payloadFiles?.send(request, context.key !== undefined);
    this.files = sent?.files;
    return context.client.attempt(
      context.gearmanFunction,
      sent?.payload ?? whole(request),
      { unique },
      observer,
      ordinal,
    );
  }

  /** The current attempt's payload files are done with: it completed, a new attempt starts, or the chunk has ended. */
  releaseFiles(completed = false): void {
    if (this.files) this.context.payloadFiles?.done(this.files, completed);
    this.files = undefined;
  }

  /** WORK_DATA: a heartbeat (empty; the engine heard it) or a console line of the attempt's function. */
  data(bytes: Buffer, attempt: Attempt): void {
    const { output, key } = this.context;
    if (bytes.length === 0 || output === undefined) return;
    const what = `output of chunk ${this.described.index} (job ${attempt.handle ?? attempt.unique})`;
    const check = key && { key, requestNonce: requestNonce(this.request!), seen: (this.recordNonces ??= new Set()) };
    try {
      const record = decodeOutputRecord(bytes, what, check);
      this.linesHeard++;
      output.heard(record);
    } catch (error) {
      if (!(error instanceof WireFormatError || error instanceof SignatureError)) throw error;
      output.unreadable(error);
    }
  }

  /** A take notice: the first restarts the deadline; each later one means a node was lost, and spends a retry. */
  status(numerator: number, _denominator: number, attempt: Attempt): typeof PROGRESS | Retry | undefined {
    if (numerator !== TAKEN_NUMERATOR) return undefined;
    if (++this.takes === 1) {
      this.context.onTaken?.();
      return PROGRESS;
    }
    return new Retry(nodeLost(this.described, attempt), RETRIES);
  }

  /** WORK_COMPLETE: the results, a Retry when the response cannot be trusted; throws RemoteError when the function threw. */
  completed(sent: Buffer, attempt: Attempt): ChunkResults<unknown> | Retry {
    const { context, described } = this;
    context.onTaken?.();
    const what = `response to chunk ${described.index} (job ${attempt.handle ?? attempt.unique})`;
    let bytes = sent;
    try {
      if (context.payloadFiles) bytes = context.payloadFiles.receive(sent, this.files, what);
    } catch (error) {
      // Its file could not be read whole: try the chunk again.
      if (!(error instanceof WireFormatError)) throw error;
      return new Retry(error, RETRIES);
    } finally {
      this.releaseFiles(true);
    }
    try {
      verifyChunk(bytes, context.guard, what, requestNonce(this.request!));
    } catch (error) {
      // A response this client cannot trust (another key, altered, replayed): try the chunk again.
      if (!(error instanceof SignatureError)) throw error;
      return new Retry(error, RETRIES);
    }
    // Number results stay the typed array they came as until the map takes them (chunks.ts ChunkResults).
    const response = decodeChunkResponseTyped(bytes);
    context.output?.responded(this.chunk, response, this.linesHeard);
    const { callAt } = context;
    const errorOf = (index: number, error: SerializedError) =>
      new RemoteError({
        functionName: context.functionName,
        index: callAt ? undefined : index,
        host: response.host,
        pid: response.pid,
        error,
        ...(callAt ? { call: callAt(index) } : {}),
      });
    if (!response.ok) throw withComputed(errorOf(response.index, response.error), response.results);
    const { settled } = this;
    if (!settled || !context.settle) return response.results;
    const { returnErrors, retryOn } = context.settle;
    const itemError = (index: number, failure: ItemFailure) => {
      const error = errorOf(index, failure.error);
      context.settle?.onError?.(error);
      return error;
    };
    // A settled chunk's outcomes are an array its retries write into.
    const results = isPackedNumbers(response.results) ? unpackNumbers(response.results) : response.results;
    const merged = settled.merge(results, response.errors, itemError, retryOn);
    // Raising, the results before the first failed item go with the error, as a stopped chunk's do (imap yields them).
    if (merged.kept && !returnErrors) throw withComputed(merged.kept, settled.beforeFirst(isRemoteError));
    const finish = () => {
      const first = returnErrors ? undefined : settled.firstError(isRemoteError);
      if (first) throw withComputed(first, settled.beforeFirst(isRemoteError));
      return settled.results;
    };
    if (merged.retry.length === 0) return finish();
    // Only the failed items go again: a new payload.
    this.payload = undefined;
    const delayMs = backoffMs(context.settle.backoffMs, ++this.errorRetries);
    return new Retry(merged.retry[0], RETRIES, { delayMs, otherwise: finish });
  }

  failed(error: GearmanError): Retry | undefined {
    const exception = error instanceof JobError ? error.exception : undefined;
    if (exception && readHandBack(exception) !== undefined) {
      if (++this.handBacks <= FREE_HAND_BACKS) return new Retry(error);
      return new Retry(handedBackTooOften(this.described, this.handBacks, error), RETRIES);
    }
    const tooLarge = exception && readTooLarge(exception);
    if (tooLarge !== undefined) throw chunkTooLarge(this.described, "results", tooLarge);
    const refusal = exception ? readRefusal(exception) : undefined;
    if (refusal && !RETRIED_REFUSALS.includes(refusal.reason))
      throw chunkRefused(this.described, refusal.detail, error);
    // No node took it (no take notice came): nothing was lost but a connection, perhaps this client's own.
    if (error.code === "CONNECTION" && this.takes === 0 && ++this.untakenLosses <= FREE_SERVER_LOSSES)
      return new Retry(error);
    if (RETRIED_CODES.has(error.code)) return new Retry(error, RETRIES);
    if (error.code === "NO_SERVER") throw noJobServer(this.described, undefined, error);
    return undefined;
  }

  /** Past the deadline: a Retry; or, for an attempt that never found a job server to go to, the end of the map. */
  timedOut(attempt: Attempt): Retry {
    const { context } = this;
    if (attempt.server === undefined && context.unreachable)
      throw noJobServer(this.described, context.timeoutMs, context.unreachable());
    return new Retry(attemptTimedOut(this.described, attempt, context.timeoutMs), RETRIES);
  }

  /** The node that took it went silent (cut off, hung): no job server may ever notice, gearmand least of all. */
  silent(attempt: Attempt): Retry {
    return new Retry(nodeSilent(this.described, attempt, CHUNK_SILENT_MS), RETRIES);
  }

  spent(_budget: string, error: unknown): void {
    this.context.onRetry(this.chunk, error);
  }

  /** The nodes stop it too: the job server's cancel reaches only a queued job. */
  gaveUp(attempt: Attempt): void {
    this.context.cancelAttempt(attempt.unique);
  }

  /** Retries spent out: CHUNK_TIMEOUT when the last one was a timeout, else CHUNK_FAILED, with the times it was tried. */
  exhausted(_budget: string, error: unknown, spent: number): unknown {
    const tries = 1 + spent;
    return error instanceof PoolError && error.code === "ATTEMPT_TIMEOUT"
      ? chunkTimedOut(this.described, tries, this.context.timeoutMs, error)
      : chunkFailed(this.described, tries, error);
  }

  aborted(reason: unknown): unknown {
    return abortError(reason);
  }

  /**
   * Under errors: "return", a chunk given up after its retries (CHUNK_FAILED, CHUNK_TIMEOUT) or too large is the
   * outcome of each of its items no attempt settled; the others keep theirs. Any other error is thrown.
   */
  lostItems(error: unknown): unknown[] {
    if (!(error instanceof PoolError && ITEM_LEVEL.has(error.code)) || !this.settled) throw error;
    return this.settled.unsettled(error, this.chunk.items.length);
  }
}

const isRemoteError = (value: unknown): value is RemoteError => value instanceof RemoteError;

/** A request in one buffer: parts (split-payload.ts) come only with payload files and are joined only when they go inline after all. */
function whole(request: Buffer | SplitPayload): Buffer {
  return request instanceof SplitPayload ? request.join() : request;
}

/** The nonce a signed request carries; parts are never signed (their head says so, and nothing is joined to read it). */
function requestNonce(request: Buffer | SplitPayload): Buffer | undefined {
  return chunkNonce(request instanceof SplitPayload ? request.head : request);
}
