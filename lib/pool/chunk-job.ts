/**
 * One chunk's life as a Gearman job: submit, wait, verify, decode. An attempt
 * that fails (WORK_FAIL or WORK_EXCEPTION, a lost job server, a timeout, after
 * which the nodes are told to stop it, or a response whose signature does not
 * verify) is followed by another, up to `retries` more. A function that threw
 * is not retried: it rejects with RemoteError. With a cluster key each attempt
 * is encoded and signed anew and its response must be signed for that
 * attempt; a node's refusal of the signature ends the map (a key mismatch
 * does not heal by retrying), unless it only found the attempt stale or replayed.
 */
import type { GearmanClient } from "../gearman/client.js";
import { GearmanError, JobError } from "../gearman/errors.js";
import { decodeChunkResponse } from "../wire/chunk-codec.js";
import { chunkNonce, signChunkInPlace, verifyChunk } from "../wire/chunk-signing.js";
import { MAP_FUNCTION, readRefusal } from "../wire/protocol.js";
import { RemoteError } from "../wire/errors.js";
import { SignatureError, type RefusalReason } from "../security/errors.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { MessageGuard } from "../security/message-guard.js";
import type { Chunk } from "./chunks.js";
import { chunkFailed, chunkRefused, chunkTimedOut, abortError } from "./errors.js";

/** Refusals a new attempt can get past: it is signed anew, so it is fresh and its nonce new. Any other refusal is a key mismatch. */
const RETRIED_REFUSALS: readonly RefusalReason[] = ["stale", "replayed"];

export interface ChunkJobContext {
  readonly client: GearmanClient;
  readonly mapId: string;
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly retries: number;
  /** Called before each new attempt after a failure. */
  readonly onRetry: (chunk: Chunk<unknown>, attempt: number, error: unknown) => void;
  /** Tells the worker nodes to stop one attempt (by its job unique id) that timed out. */
  readonly cancelAttempt: (unique: string) => void;
  /** Signs each attempt; responses must then pass `guard`. */
  readonly key?: ClusterKey;
  readonly guard?: MessageGuard;
}

/** `encode` makes the chunk's request payload: once, and again for each retry of a signed chunk (a signature is written into the payload it signs). */
export async function runChunkJob(context: ChunkJobContext, chunk: Chunk<unknown>, encode: () => Buffer, signal: AbortSignal): Promise<unknown[]> {
  const { client, mapId, timeoutMs, retries } = context;
  const size = chunk.items.length;
  const payload = encode();
  let lastError: unknown;
  let timedOut = false;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (signal.aborted) throw abortError(signal.reason);
    if (attempt > 1) context.onRetry(chunk, attempt, lastError);
    const unique = `${mapId}:${chunk.index}:${attempt}`;
    const request = context.key ? signChunkInPlace(attempt === 1 ? payload : encode(), context.key) : payload;
    const job = client.submitJob(MAP_FUNCTION, request, {
      unique,
      timeoutMs,
      signal,
    });
    let bytes: Buffer;
    try {
      bytes = await job.result;
    } catch (error) {
      if (signal.aborted) throw abortError(signal.reason);
      const code = error instanceof GearmanError ? error.code : undefined;
      const refusal = error instanceof JobError && error.exception ? readRefusal(error.exception) : undefined;
      if (refusal && !RETRIED_REFUSALS.includes(refusal.reason)) throw chunkRefused({ index: chunk.index, start: chunk.start, size }, refusal.detail, error);
      if (code === "JOB_FAILED" || code === "JOB_EXCEPTION" || code === "TIMEOUT" || code === "CONNECTION" || code === "NO_SERVER") {
        lastError = error;
        timedOut = code === "TIMEOUT";
        if (timedOut) context.cancelAttempt(unique);
        continue;
      }
      throw error;
    }
    try {
      verifyChunk(bytes, context.guard, `response to chunk ${chunk.index} (job ${job.handle ?? unique})`, chunkNonce(request));
    } catch (error) {
      // A response this client cannot trust (another key, altered, replayed): try the chunk again.
      if (!(error instanceof SignatureError)) throw error;
      lastError = error;
      continue;
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
  const described = { index: chunk.index, start: chunk.start, size };
  throw timedOut ? chunkTimedOut(described, retries + 1, timeoutMs, lastError) : chunkFailed(described, retries + 1, lastError);
}
