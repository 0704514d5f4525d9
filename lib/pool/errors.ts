/**
 * The errors the pool raises besides bad arguments (ArgumentError) and
 * RemoteError (the function threw on a worker): PoolErrors about chunks,
 * maps and the pool itself. The control plane's (memory, drain / online,
 * waiting for nodes) are in lib/control/errors.ts.
 */
import { inspect } from "node:util";
import { PoolError } from "../pool-error.js";
import { ItemSerializationError, RemoteError } from "../wire/errors.js";
import type { ItemError } from "./call-types.js";

export { PoolError, type PoolErrorCode } from "../pool-error.js";

export interface ChunkDescription {
  readonly index: number;
  readonly start: number;
  readonly size: number;
}

const describe = (chunk: ChunkDescription) =>
  `chunk ${chunk.index} (items ${chunk.start}..${chunk.start + chunk.size - 1})`;

export const chunkFailed = (chunk: ChunkDescription, attempts: number, cause: unknown): PoolError =>
  new PoolError(
    "CHUNK_FAILED",
    `${describe(chunk)} failed ${attempts} time${attempts === 1 ? "" : "s"}: its worker died or the job server gave up on it (${(cause as Error)?.message ?? cause})`,
    { cause },
  );

export const chunkTimedOut = (
  chunk: ChunkDescription,
  attempts: number,
  timeoutMs: number,
  cause: unknown,
): PoolError =>
  new PoolError(
    "CHUNK_TIMEOUT",
    `${describe(chunk)} did not finish within ${timeoutMs} ms, ${attempts} time${attempts === 1 ? "" : "s"} (timeout is per chunk; raise poll_timeout or the map's timeout option)`,
    { cause },
  );

/** The time-out of one attempt of a chunk. */
export const attemptTimedOut = (
  chunk: ChunkDescription,
  job: { readonly handle?: string; readonly server?: string },
  timeoutMs: number,
): PoolError =>
  new PoolError(
    "ATTEMPT_TIMEOUT",
    `${describe(chunk)}, job ${job.handle ?? "(not yet created)"} on ${job.server ?? "no job server yet"}, did not finish within ${timeoutMs} ms`,
  );

/** A node took a chunk that another node had taken before: its job server lost that one (it died, or its connection did). */
export const nodeLost = (
  chunk: ChunkDescription,
  job: { readonly handle?: string; readonly server?: string },
): PoolError =>
  new PoolError(
    "NODE_LOST",
    `${describe(chunk)}, job ${job.handle ?? "?"}, was handed out again by job server ${job.server ?? "?"}: it lost the worker node that had taken it`,
  );

/** The node that took a chunk sent nothing of it (not even a heartbeat) for `silentMs`: cut off or hung. */
export const nodeSilent = (
  chunk: ChunkDescription,
  job: { readonly handle?: string; readonly server?: string },
  silentMs: number,
): PoolError =>
  new PoolError(
    "NODE_LOST",
    `${describe(chunk)}, job ${job.handle ?? "?"} on job server ${job.server ?? "?"}: the worker node that had taken it sent nothing for ${silentMs} ms (cut off or hung)`,
  );

/**
 * No job server was connected while a chunk waited for one (`waitedMs`: its timeout; undefined: the
 * client's own wait), or when a map began: every server is named with why, e.g. "connect ECONNREFUSED".
 */
export const noJobServer = (
  chunk: ChunkDescription | undefined,
  waitedMs: number | undefined,
  cause: unknown,
): PoolError => {
  const reason = (cause as Error)?.message ?? String(cause);
  const what =
    chunk === undefined
      ? "the map cannot start"
      : `${describe(chunk)} waited${waitedMs === undefined ? "" : ` ${waitedMs} ms (its timeout)`} for a job server`;
  return new PoolError("NO_JOB_SERVER", `${what}: ${reason.replace(/^[^:]*: (?=no job server reachable)/, "")}`, {
    cause,
  });
};

/**
 * A chunk whose request (`stage` "request") or results ("results") exceed the largest packet a job server carries: never
 * retried. A submitted call refused alone is named by its call (`sq(<Buffer …>)`, lib/wire/call-text.ts).
 */
export const chunkTooLarge = (
  chunk: ChunkDescription | string,
  stage: "request" | "results",
  detail: string,
): PoolError =>
  new PoolError(
    "TOO_LARGE",
    `${typeof chunk === "string" ? chunk : describe(chunk)} ${stage === "request" ? "cannot be sent" : "ran, but its results cannot come back"}: ${detail}; raise max_packet_size ([client], every member; MakePool's maxPacketSize) and the embedded job server's --max-packet, or send less`,
  );

/** The log line of a retry a chunk spent: "chunk 3 (items 24..31): a retry spent (of 3): CAUSE". */
export const retryLine = (
  chunk: { index: number; start: number; items: ArrayLike<unknown> },
  cause: unknown,
  retries: number,
): string =>
  `${describe({ index: chunk.index, start: chunk.start, size: chunk.items.length })}: a retry spent (of ${retries}): ${(cause as Error)?.message ?? String(cause)}`;

/** Draining nodes gave the chunk back unrun so often that the next hand-backs spend retries (one node draining and coming back in a loop). */
export const handedBackTooOften = (chunk: ChunkDescription, times: number, cause: unknown): PoolError =>
  new PoolError("HANDED_BACK", `${describe(chunk)} was handed back unrun by draining worker nodes ${times} times`, {
    cause,
  });

export const chunkRefused = (chunk: ChunkDescription, why: string, cause: unknown): PoolError =>
  new PoolError(
    "REFUSED",
    `${describe(chunk)} was refused: ${why}. Every client and worker node of a cluster needs the same secret ([client] secret, secret_file or GLIMPSE_CLUSTER_SECRET)`,
    { cause },
  );

export const poolClosed = (): PoolError => new PoolError("CLOSED", "the pool is closed");

/**
 * What a call the pool was running when close() was called rejects with, whatever stage it was in
 * (waiting on its input, its chunks out, about to start): the pool stops it as an abort would.
 */
export const closedWhileRunning = (what: "the map" | "the call"): PoolError =>
  new PoolError("CLOSED", `the pool was closed while ${what} ran`);

/** The reason a map's window aborts the chunks still in flight when it stops early. */
export const mapStopped = (): PoolError => new PoolError("STOPPED", "map stopped");

/**
 * The error a map rejects with when its AbortSignal fires: a DOMException named AbortError (as Node's own
 * APIs reject on an abort), whatever the reason, so one check catches every abort. The reason is its
 * `cause` and is said in its message: "the map was aborted: my reason", "the map was aborted:
 * TimeoutError: The operation was aborted due to timeout" (AbortSignal.timeout); "the call was aborted: ..."
 * for calls made with apply.
 */
export function abortError(reason: unknown, what: "the map" | "the call" = "the map"): Error {
  const said = describeReason(reason);
  const error = new DOMException(
    said === undefined ? `${what} was aborted` : `${what} was aborted: ${said}`,
    "AbortError",
  );
  if (reason !== undefined)
    Object.defineProperty(error, "cause", { value: reason, configurable: true, writable: true });
  return error;
}

/** What the message says of a reason; nothing for abort()'s own (an AbortError that only says it was aborted). */
function describeReason(reason: unknown): string | undefined {
  if (reason === undefined) return undefined;
  if (typeof reason === "string") return reason;
  if (reason instanceof Error || reason instanceof DOMException) {
    if (reason.name === "AbortError" && reason.message === DEFAULT_ABORT_MESSAGE) return undefined;
    return reason.name === "Error" ? reason.message : `${reason.name}: ${reason.message}`;
  }
  return inspect(reason, { breakLength: Infinity, depth: 2, maxStringLength: 200 });
}

/** The message of the reason AbortController.abort() gives when it is given none. */
const DEFAULT_ABORT_MESSAGE = (() => {
  const controller = new AbortController();
  controller.abort();
  return (controller.signal.reason as Error).message;
})();

/** Whether an outcome under errors: "return" is an item's error (ItemError) rather than its result. */
export function isItemError(value: unknown): value is ItemError {
  return (
    typeof value === "object" &&
    (value instanceof RemoteError || value instanceof PoolError || value instanceof ItemSerializationError)
  );
}
