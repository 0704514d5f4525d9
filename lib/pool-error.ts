/**
 * PoolError: the error a pool's user meets when the cluster fails them, with
 * a stable `code`. The pool (lib/pool/errors.ts) and the control plane under
 * it (lib/control/errors.ts: memory, drain / online, waiting for nodes) both
 * raise it, so it lives below both. Bad arguments are ArgumentError; a
 * function that threw on a worker is RemoteError.
 */

export type PoolErrorCode =
  | "CHUNK_FAILED" // a chunk's worker died (or the job server gave up on it) more often than max_retries allows
  | "CHUNK_TIMEOUT" // a chunk ran past its timeout more often than max_retries allows
  | "CLOSED" // the pool is closed
  | "MEMORY" // set-memory / clear-memory could not reach every worker
  | "CHANNEL_UNREACHABLE" // a command for the worker nodes (ping, set-memory, drain, ...): a channel endpoint (the broker) accepted no connection
  | "REFUSED" // a worker node refused a chunk's signature (a different cluster secret, or none)
  | "ATTEMPT_TIMEOUT" // one attempt of a chunk went past its timeout (the cause of a retry, or of CHUNK_TIMEOUT)
  | "NODE_LOST" // a job server handed a chunk to another node after losing the one that had taken it, or that node went silent (the cause of a retry, or of CHUNK_FAILED)
  | "NO_MATCHING_NODE" // a drain or online selector matched no live worker node
  | "NOT_ACKNOWLEDGED" // selected worker nodes did not acknowledge a drain or online in time
  | "NO_NODE" // no live worker node serves a map's label within its waitForNodesMs
  | "TOO_LARGE" // a chunk's request or results exceed max_packet_size: named with its largest items, never retried
  | "NO_JOB_SERVER" // no job server could be connected to: when a map began, or while a chunk waited past its timeout
  | "HANDED_BACK" // draining nodes handed a chunk back unrun more often than is free (the cause of a retry, or of CHUNK_FAILED)
  | "STOPPED"; // a map stopped before its end (its consumer left, or another chunk failed): why its other chunks are cancelled

export class PoolError extends Error {
  readonly code: PoolErrorCode;
  constructor(code: PoolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PoolError";
    this.code = code;
  }
}
