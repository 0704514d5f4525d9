/**
 * One chunk's life as a Gearman job: submit, wait, decode; on a dead worker
 * (WORK_FAIL, lost job server) or a timeout, submit again up to `retries`
 * times. A function that threw is not retried: it rejects with RemoteError.
 */
import type { GearmanClient } from "../gearman/client.js";
import { GearmanError } from "../gearman/errors.js";
import { decodeChunkResponse, RemoteError } from "../wire/index.js";
import type { Chunk } from "./chunks.js";
import { chunkFailed, chunkTimedOut, abortError } from "./errors.js";

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
}

export async function runChunkJob(context: ChunkJobContext, chunk: Chunk<unknown>, payload: Buffer, signal: AbortSignal): Promise<unknown[]> {
  const { client, mapId, timeoutMs, retries } = context;
  const size = chunk.items.length;
  let lastError: unknown;
  let timedOut = false;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (signal.aborted) throw abortError(signal.reason);
    if (attempt > 1) context.onRetry(chunk, attempt, lastError);
    const unique = `${mapId}:${chunk.index}:${attempt}`;
    const job = client.submitJob(MAP_FUNCTION, payload, {
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
      if (code === "JOB_FAILED" || code === "JOB_EXCEPTION" || code === "TIMEOUT" || code === "CONNECTION" || code === "NO_SERVER") {
        lastError = error;
        timedOut = code === "TIMEOUT";
        if (timedOut) context.cancelAttempt(unique);
        continue;
      }
      throw error;
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
