/**
 * One chunk's life as Gearman jobs, under the pool's one retry rule
 * (docs/robustness.md "How many times a chunk runs"):
 *
 *   attempt ──submitJob (unique mapId:chunk:attempt, no client failover)──► job server
 *      │  WORK_STATUS 0/N from the node that takes it ──► a take; a second take of the same job means
 *      │                                                 the server handed it out again after losing that node
 *      ├─ WORK_COMPLETE ──verify──► decode ──► results, or RemoteError (the function threw: never retried)
 *      ├─ a hand-back (a draining node gave it back unrun) ──► a new attempt, no retry spent
 *      └─ a failure: the node's job failed, the job server was lost, the attempt timed out (timed from
 *         its submission and again from each take), the node that took it went silent (no heartbeat for
 *         CHUNK_SILENT_MS), a stale or replayed refusal, an untrusted response
 *
 * Every take after the first and every failure spends one of `retries`; a
 * failure with retries left is followed by a new attempt, signed anew. When
 * none is left the chunk fails (CHUNK_FAILED or CHUNK_TIMEOUT) and its
 * attempt is cancelled on the job server and on the nodes. So a chunk is
 * taken by worker nodes at most 1 + retries times, whatever the job
 * server's own requeue limit. A refusal other than stale or replayed is a
 * key mismatch, which no retry heals: it ends the map at once.
 */
import type { GearmanClient } from "../gearman/client.js";
import type { ClientJob } from "../gearman/client-job.js";
import { GearmanError, JobError } from "../gearman/errors.js";
import { decodeChunkResponse } from "../wire/chunk-codec.js";
import { chunkNonce, signChunkInPlace, verifyChunk } from "../wire/chunk-signing.js";
import { CHUNK_SILENT_MS, TAKEN_NUMERATOR, readHandBack, readRefusal } from "../wire/protocol.js";
import { RemoteError } from "../wire/errors.js";
import { SignatureError, type RefusalReason } from "../security/errors.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { MessageGuard } from "../security/message-guard.js";
import type { Chunk } from "./chunks.js";
import {
  attemptTimedOut,
  chunkFailed,
  chunkRefused,
  chunkTimedOut,
  abortError,
  handedBackTooOften,
  nodeLost,
  nodeSilent,
  type ChunkDescription,
} from "./errors.js";

/** Refusals a new attempt can get past: it is signed anew, so it is fresh and its nonce new. Any other refusal is a key mismatch. */
const RETRIED_REFUSALS: readonly RefusalReason[] = ["stale", "replayed"];
/** Gearman errors after which a new attempt may succeed. */
const RETRIED_CODES: ReadonlySet<string> = new Set(["JOB_FAILED", "JOB_EXCEPTION", "CONNECTION", "NO_SERVER"]);

export interface ChunkJobContext {
  readonly client: GearmanClient;
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
  /** Signs each attempt; responses must then pass `guard`. */
  readonly key?: ClusterKey;
  readonly guard?: MessageGuard;
}

/** How an attempt ended, when it did not end the chunk. */
interface Failure {
  readonly error: unknown;
  readonly timedOut: boolean;
}

/** A node handed the attempt back unrun (it was draining): the chunk goes again, at no cost the first FREE_HAND_BACKS times. */
interface HandBack {
  readonly handedBack: JobError;
}
/** Hand-backs of one chunk that spend no retry: more than any sane drain schedule gives, fewer than a node draining and coming back in a loop. */
export const FREE_HAND_BACKS = 16;

/** The retries a chunk has left, spent by every failure and by every take beyond an attempt's first. */
class Tries {
  /** Takes and attempts so far, the first included. */
  used = 1;
  constructor(private readonly limit: number) {}
  /** Spends one; false when none was left. */
  spend(): boolean {
    if (this.used > this.limit) return false;
    this.used++;
    return true;
  }
}

/** `encode` makes the chunk's request payload: once, and again for each retry of a signed chunk (a signature is written into the payload it signs). */
export async function runChunkJob(
  context: ChunkJobContext,
  chunk: Chunk<unknown>,
  encode: () => Buffer,
  signal: AbortSignal,
): Promise<unknown[]> {
  const described: ChunkDescription = { index: chunk.index, start: chunk.start, size: chunk.items.length };
  const tries = new Tries(context.retries);
  const payload = encode();
  let handBacks = 0;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw abortError(signal.reason);
    const unique = `${context.mapId}:${chunk.index}:${attempt}`;
    const request = context.key ? signChunkInPlace(attempt === 1 ? payload : encode(), context.key) : payload;
    let outcome = await runAttempt(context, chunk, described, request, unique, signal, tries);
    if (Array.isArray(outcome)) return outcome;
    if ("handedBack" in outcome) {
      if (++handBacks <= FREE_HAND_BACKS) continue;
      outcome = { error: handedBackTooOften(described, handBacks, outcome.handedBack), timedOut: false };
    }
    if (!tries.spend()) {
      throw outcome.timedOut
        ? chunkTimedOut(described, tries.used, context.timeoutMs, outcome.error)
        : chunkFailed(described, tries.used, outcome.error);
    }
    context.onRetry(chunk, outcome.error);
  }
}

/** One Gearman job for the chunk: its results, or how it failed; throws what ends the map. */
function runAttempt(
  context: ChunkJobContext,
  chunk: Chunk<unknown>,
  described: ChunkDescription,
  request: Buffer,
  unique: string,
  signal: AbortSignal,
  tries: Tries,
): Promise<unknown[] | Failure | HandBack> {
  const job = context.client.submitJob(context.gearmanFunction, request, { unique, signal, failovers: 0 });
  let takes = 0;
  /** Why this side gave the job up, when it did (the job's result then rejects ABORTED). */
  let givenUp: Failure | undefined;
  /** Given up because its retries are spent: the chunk fails. */
  let outOfTries = false;
  const giveUp = (failure: Failure) => {
    givenUp = failure;
    job.cancel(failure.error);
    context.cancelAttempt(unique);
  };
  const timer = setTimeout(
    () => giveUp({ error: attemptTimedOut(described, job, context.timeoutMs), timedOut: true }),
    context.timeoutMs,
  );
  // From a take on, the node that holds the attempt sends a heartbeat at least every CHUNK_HEARTBEAT_MS:
  // silence means it was cut off or hung, which the job server may never notice (gearmand does not).
  let silence: NodeJS.Timeout | undefined;
  let heardAt = 0;
  const heard = () => {
    heardAt = performance.now();
    silence?.refresh();
  };
  // Checked after the next poll for input: a client that was busy reads what came meanwhile before it gives
  // up (what it heard then is recent; the timer itself may fire a little before CHUNK_SILENT_MS of real time).
  const silent = () =>
    setImmediate(() => {
      if (givenUp) return;
      if (performance.now() - heardAt < CHUNK_SILENT_MS / 2) return void silence?.refresh();
      giveUp({ error: nodeSilent(described, job, CHUNK_SILENT_MS), timedOut: false });
    });
  const onStatus = (numerator: number) => {
    if (givenUp) return;
    heard();
    if (numerator !== TAKEN_NUMERATOR) return;
    if (++takes > 1) {
      const lost = nodeLost(described, job);
      if (!tries.spend()) {
        outOfTries = true;
        return giveUp({ error: lost, timedOut: false });
      }
      context.onRetry(chunk, lost);
    }
    heardAt = performance.now();
    silence ??= setTimeout(silent, CHUNK_SILENT_MS);
    timer.refresh();
  };
  job.on("status", onStatus);
  job.on("data", heard);
  return job.result
    .then(
      (bytes) => finish(context, described, job, request, unique, bytes),
      (error: unknown) => {
        if (signal.aborted) throw abortError(signal.reason);
        if (givenUp) {
          // Out of tries while a node held it: the chunk fails now, with what was spent.
          if (outOfTries) throw chunkFailed(described, tries.used, givenUp.error);
          return givenUp;
        }
        if (error instanceof JobError && error.exception && readHandBack(error.exception) !== undefined)
          return { handedBack: error };
        const refusal = error instanceof JobError && error.exception ? readRefusal(error.exception) : undefined;
        if (refusal && !RETRIED_REFUSALS.includes(refusal.reason)) throw chunkRefused(described, refusal.detail, error);
        if (error instanceof GearmanError && RETRIED_CODES.has(error.code)) return { error, timedOut: false };
        throw error;
      },
    )
    .finally(() => {
      clearTimeout(timer);
      clearTimeout(silence);
      job.off("status", onStatus);
      job.off("data", heard);
    });
}

/** A WORK_COMPLETE: the results, RemoteError when the function threw, or a failure when the response cannot be trusted. */
function finish(
  context: ChunkJobContext,
  described: ChunkDescription,
  job: ClientJob,
  request: Buffer,
  unique: string,
  bytes: Buffer,
): unknown[] | Failure {
  try {
    verifyChunk(
      bytes,
      context.guard,
      `response to chunk ${described.index} (job ${job.handle ?? unique})`,
      chunkNonce(request),
    );
  } catch (error) {
    // A response this client cannot trust (another key, altered, replayed): try the chunk again.
    if (!(error instanceof SignatureError)) throw error;
    return { error, timedOut: false };
  }
  const response = decodeChunkResponse(bytes);
  if (response.ok) return response.results;
  throw new RemoteError({
    functionName: context.functionName,
    index: response.index,
    host: response.host,
    pid: response.pid,
    error: response.error,
  });
}
