/** Options of one worker node, validated once into a filled, frozen form. */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { ResourceLimits } from "node:worker_threads";
import { resolvePolicy, type FunctionPolicy } from "./function-policy.js";
import { MIN_SECRET_BYTES } from "../security/index.js";

export interface NodeOptionsInput {
  /** Job servers, "host:port" each. */
  jobServers: readonly string[];
  /** ZeroMQ endpoint the node's command subscriber connects to (the broker's command backend, or the client's in direct mode). */
  commandUrl: string;
  /** ZeroMQ endpoint the node's log publisher connects to (the broker's log frontend, or the client's in direct mode). */
  logUrl: string;
  /** Threads in the node's piscina pool: chunks run at once. Default: the machine's cores. */
  threads?: number;
  /**
   * Chunks each thread holds waiting behind the one it runs, so it starts the next at once. Default 1.
   * A waiting chunk cannot move to another node that falls idle: use 0 for long chunks spread over many nodes.
   */
  prefetch?: number;
  /** Node id, shown by ping and as the Gearman client id. Default: `glimpse-node:HOST:PID:RANDOM`. */
  nodeId?: string;
  /** How long a stopping node lets running chunks finish, in ms. Default 30000. */
  graceMs?: number;
  /** How long a chunk waits for the shared memory version it needs, in ms. Default 30000. */
  memoryWaitMs?: number;
  /** Memory limits of each worker thread (piscina / worker_threads resourceLimits). */
  resourceLimits?: ResourceLimits;
  /** The cluster secret: chunks and commands must be signed with it; responses and log messages are. None: nothing is signed. */
  secret?: string;
  /** Oldest signed chunk or command accepted, in ms. Default 300000. */
  signatureMaxAgeMs?: number;
  /** Run functions shipped as source: true, false, or "auto" (default: only with a secret or loopback-only job servers). */
  allowSource?: boolean | "auto";
  /** Module specifiers, or prefixes ending in "/", whose functions run even when source does not. */
  allowedModules?: readonly string[];
  /** The cluster's CURVE key pair (Z85): the node's channel sockets connect as CURVE clients with it. */
  curve?: { publicKey: string; secretKey: string };
  /** TLS to the job servers (PEM texts). Default: plain TCP. */
  tls?: { ca?: string; cert?: string; key?: string };
}

export type NodeOptions = Readonly<Required<Omit<NodeOptionsInput, "resourceLimits" | "jobServers" | "secret" | "allowSource" | "allowedModules" | "curve" | "tls">>> & {
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly curve: { readonly publicKey: string; readonly secretKey: string } | undefined;
  readonly jobServers: readonly string[];
  readonly resourceLimits: ResourceLimits | undefined;
  readonly secret: string | undefined;
  readonly policy: FunctionPolicy;
};

export function fillNodeOptions(input: NodeOptionsInput): NodeOptions {
  if (!Array.isArray(input.jobServers) || input.jobServers.length === 0) throw new TypeError("worker node: jobServers must list at least one host:port");
  const threads = input.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new TypeError(`worker node: threads must be a whole number ≥ 1, got ${input.threads}`);
  const prefetch = input.prefetch ?? 1;
  if (!Number.isInteger(prefetch) || prefetch < 0) throw new TypeError(`worker node: prefetch must be a whole number ≥ 0, got ${input.prefetch}`);
  if (input.secret !== undefined && Buffer.byteLength(input.secret) < MIN_SECRET_BYTES) {
    throw new TypeError(`worker node: the cluster secret needs at least ${MIN_SECRET_BYTES} bytes`);
  }
  return Object.freeze({
    jobServers: Object.freeze([...input.jobServers]),
    commandUrl: input.commandUrl,
    logUrl: input.logUrl,
    threads,
    prefetch,
    nodeId: input.nodeId ?? `glimpse-node:${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
    graceMs: input.graceMs ?? 30_000,
    memoryWaitMs: input.memoryWaitMs ?? 30_000,
    resourceLimits: input.resourceLimits,
    secret: input.secret,
    tls: input.tls && Object.freeze({ ...input.tls }),
    curve: input.curve && Object.freeze({ publicKey: input.curve.publicKey, secretKey: input.curve.secretKey }),
    signatureMaxAgeMs: input.signatureMaxAgeMs ?? 300_000,
    policy: resolvePolicy(input.allowSource ?? "auto", input.secret !== undefined, input.jobServers, input.allowedModules ?? []),
  });
}
