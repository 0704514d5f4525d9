/**
 * One chunk's life as a Gearman job: submit, wait, decode; on a dead worker
 * (WORK_FAIL, lost job server) or a timeout, submit again up to `retries`
 * times. A function that threw is not retried: it rejects with RemoteError.
 * With a cluster key each attempt is encoded and signed anew and its response must be
 * signed for that attempt; a worker that refuses the signature ends the map
 * (a key mismatch does not heal by retrying), unless it only found it stale
 * or replayed.
 */
import type { GearmanClient } from "../gearman/client.js";
import { GearmanError, JobError } from "../gearman/errors.js";
import { chunkNonce, decodeChunkResponse, signChunkInPlace, verifyChunk, RemoteError } from "../wire/index.js";
import { SignatureError, type ClusterKey, type MessageGuard } from "../security/index.js";
import type { Chunk } from "./chunks.js";
import { chunkFailed, chunkRefused, chunkTimedOut, abortError } from "./errors.js";

const REFUSED = /^glimpse-refused ([a-z-]+): /;

/** The Gearman function every worker node registers. */
export const MAP_FUNCTION = "glimpse_map";

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
      const refused = error instanceof JobError && error.exception ? REFUSED.exec(error.exception.toString("utf8", 0, 64))?.[1] : undefined;
      if (refused && refused !== "stale" && refused !== "replayed") {
        throw chunkRefused({ index: chunk.index, start: chunk.start, size }, (error as JobError).exception!.toString("utf8").replace(REFUSED, ""), error);
      }
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
