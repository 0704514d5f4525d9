/** Options of one worker node, validated once into a filled, frozen form. */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { ResourceLimits } from "node:worker_threads";

export interface NodeOptionsInput {
  /** Job servers, "host:port" each. */
  jobServers: readonly string[];
  /** ZeroMQ endpoint the node's command subscriber connects to (the broker's command backend, or the client's in direct mode). */
  commandUrl: string;
  /** ZeroMQ endpoint the node's log publisher connects to (the broker's log frontend, or the client's in direct mode). */
  logUrl: string;
  /** Threads in the node's piscina pool: chunks run at once. Default: the machine's cores. */
  threads?: number;
  /** Node id, shown by ping and as the Gearman client id. Default: `glimpse-node:HOST:PID:RANDOM`. */
  nodeId?: string;
  /** How long a stopping node lets running chunks finish, in ms. Default 30000. */
  graceMs?: number;
  /** How long a chunk waits for the shared memory version it needs, in ms. Default 30000. */
  memoryWaitMs?: number;
  /** Memory limits of each worker thread (piscina / worker_threads resourceLimits). */
  resourceLimits?: ResourceLimits;
}

export type NodeOptions = Readonly<Required<Omit<NodeOptionsInput, "resourceLimits" | "jobServers">>> & {
  readonly jobServers: readonly string[];
  readonly resourceLimits: ResourceLimits | undefined;
};

export function fillNodeOptions(input: NodeOptionsInput): NodeOptions {
  if (!Array.isArray(input.jobServers) || input.jobServers.length === 0) throw new TypeError("worker node: jobServers must list at least one host:port");
  const threads = input.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new TypeError(`worker node: threads must be a whole number ≥ 1, got ${input.threads}`);
  return Object.freeze({
    jobServers: Object.freeze([...input.jobServers]),
    commandUrl: input.commandUrl,
    logUrl: input.logUrl,
    threads,
    nodeId: input.nodeId ?? `glimpse-node:${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
    graceMs: input.graceMs ?? 30_000,
    memoryWaitMs: input.memoryWaitMs ?? 30_000,
    resourceLimits: input.resourceLimits,
  });
}
