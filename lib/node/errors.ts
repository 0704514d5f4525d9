/**
 * Every error the worker node layer raises besides bad arguments
 * (ArgumentError). Each carries a stable `code`. Those raised while a chunk
 * runs reach the pool as the cause of a RemoteError, name, code and all.
 */
import { resultInstanceProblem } from "../wire/item-classes.js";

export type NodeErrorCode =
  | "START_FAILED" // a worker node process exited before it was ready
  | "MEMORY_TIMEOUT" // the shared memory version a chunk needs did not arrive in time
  | "CANCELLED" // a cancel command stopped a running chunk
  | "FUNCTION_REFUSED" // the node's function policy does not run this function
  | "NOT_A_FUNCTION" // a shipped source or a module export is not a function
  | "HELPER_UNAVAILABLE" // a shipped source needs a compiler helper this worker does not provide
  | "CACHED_FUNCTION_MISSING" // a cached function's key is not in the shared memory
  | "RESULT_NOT_SENDABLE" // a result cannot be serialized back to the pool
  | "HANDED_BACK" // a draining node gave back a chunk it held but had not started
  | "PAYLOAD_UNREACHABLE" // a chunk's payload is in a file on its pool's host, and this node has no access to it
  | "THREADS_CLOSED"; // the node's threads were shut down (the node is stopping) before a chunk could run

export class NodeError extends Error {
  override name = "NodeError";
  constructor(
    readonly code: NodeErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A function the node's policy does not allow; nothing of it was run or imported. */
export class FunctionRefusedError extends NodeError {
  override name = "FunctionRefusedError";
  constructor(message: string) {
    super("FUNCTION_REFUSED", message);
  }
}

/** `reason`: the line of the process's stderr that says why (failureReason), when it said anything. */
export const startFailed = (exit: string, reason: string | undefined): NodeError =>
  new NodeError(
    "START_FAILED",
    `worker node process exited (${exit}) before it was ready${reason ? `: ${reason}` : " (it wrote nothing to stderr)"}`,
  );

/**
 * The line of a process's stderr that says why it died: the error line
 * above the first stack frame of what it printed (an uncaught error, or the
 * node's own "failed to start" line), else its last line.
 */
export function failureReason(stderr: string): string | undefined {
  const lines = stderr.split(/\r?\n/);
  const frame = lines.findIndex((line) => /^\s+at /.test(line));
  const above = (frame < 0 ? lines : lines.slice(0, frame)).filter(
    (line) => line.trim() !== "" && !/^Node\.js v\d/.test(line),
  );
  const reason = above[above.length - 1]?.trim();
  return reason === undefined || reason.length <= 500 ? reason : `${reason.slice(0, 500)}...`;
}

/** `where` holds `held` and waited `waitMs` for `version`. */
export const memoryTimedOut = (where: string, version: number, waitMs: number, held: number): NodeError =>
  new NodeError(
    "MEMORY_TIMEOUT",
    `shared memory version ${version} did not reach ${where} within ${waitMs} ms (it holds version ${held})`,
  );

/** `what` is a map id, or a chunk attempt's job unique id. */
export const cancelled = (what: string): NodeError => new NodeError("CANCELLED", `${what} was cancelled`);

export const notAFunction = (what: string): NodeError => new NodeError("NOT_A_FUNCTION", what);

export const helperUnavailable = (name: string): NodeError =>
  new NodeError(
    "HELPER_UNAVAILABLE",
    `this worker does not provide the compiler helper "${name}" the shipped function needs (is its glimpse-cluster older than the pool's?)`,
  );

export const cachedFunctionMissing = (key: string): NodeError =>
  new NodeError("CACHED_FUNCTION_MISSING", `cached function ${key} is not in this worker's shared memory`);

export const resultNotSendable = (cause: unknown): NodeError =>
  new NodeError("RESULT_NOT_SENDABLE", `the result cannot be sent back: ${(cause as Error)?.message ?? cause}`, {
    cause,
  });

/**
 * Throws RESULT_NOT_SENDABLE for a result holding a class instance, which the serializer would send as a
 * plain object without a word (functions and symbols it refuses itself: sendSettled, runChunk).
 */
export function refuseResultInstances(result: unknown): void {
  const problem = resultInstanceProblem(result);
  if (problem !== undefined) throw resultNotSendable(new TypeError(problem));
}

export const threadsClosed = (): NodeError =>
  new NodeError(
    "THREADS_CLOSED",
    "the worker node's threads were shut down before the chunk ran (the node is stopping)",
  );

/** The chunk never started: the node is draining and gives it back to its job server. */
export const handedBack = (nodeId: string): NodeError =>
  new NodeError("HANDED_BACK", `worker node ${nodeId} is draining and handed the chunk back before running it`);

/** A chunk that came as a payload file reference to a node without the pool's payload directory (another host's). */
export const payloadUnreachable = (chunk: string, file: string, host: string): NodeError =>
  new NodeError(
    "PAYLOAD_UNREACHABLE",
    `${chunk} has its payload in a file on its pool's host (${file}), and this worker node (on ${host}) has no payload directory: only the nodes a local cluster starts read such files`,
  );
