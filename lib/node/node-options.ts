/**
 * Options of one worker node, validated once into a filled, frozen form: by
 * the WorkerNode, and by a NodeSupervisor before it starts the node's process,
 * so a bad option is an error naming it, not a process that exits at start.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import type { ResourceLimits } from "node:worker_threads";
import { resolvePolicy, type FunctionPolicy } from "./function-policy.js";
import { MIN_SECRET_BYTES } from "../security/cluster-key.js";
import { parseAddressList } from "../gearman/address.js";
import { ArgumentError, wholeNumber } from "../argument-error.js";
import { labelProblem } from "../wire/labels.js";

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
  /** Labels (docs/labels.md): the node also registers glimpse_map:LABEL for each, so maps given that label run here. Default: none. */
  labels?: readonly string[];
  /** Register only the labelled functions, not glimpse_map: the node runs labelled maps alone. Needs a label. Default false. */
  exclusive?: boolean;
  /** Drain after taking this many chunks (single-use and short-lived nodes); `online` starts a new count. Default: no limit. */
  maxChunks?: number;
  /** Exit (status 0, its supervisor does not restart it) once drained, by maxChunks or by a drain command. Default false. */
  exitWhenDone?: boolean;
  /** Start drained: registered for nothing until an online command (a supervisor restarts a drained node so). Default false. */
  drained?: boolean;
}

export type NodeOptions = Readonly<
  Required<
    Omit<
      NodeOptionsInput,
      | "resourceLimits"
      | "jobServers"
      | "secret"
      | "allowSource"
      | "allowedModules"
      | "curve"
      | "tls"
      | "labels"
      | "maxChunks"
    >
  >
> & {
  readonly labels: readonly string[];
  readonly maxChunks: number | undefined;
  readonly tls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  readonly curve: { readonly publicKey: string; readonly secretKey: string } | undefined;
  readonly jobServers: readonly string[];
  readonly resourceLimits: ResourceLimits | undefined;
  readonly secret: string | undefined;
  readonly policy: FunctionPolicy;
};

const KNOWN: readonly (keyof NodeOptionsInput)[] = [
  "jobServers",
  "commandUrl",
  "logUrl",
  "threads",
  "prefetch",
  "nodeId",
  "graceMs",
  "memoryWaitMs",
  "resourceLimits",
  "secret",
  "signatureMaxAgeMs",
  "allowSource",
  "allowedModules",
  "curve",
  "tls",
  "labels",
  "exclusive",
  "maxChunks",
  "exitWhenDone",
  "drained",
];

const option = (name: string) => `worker node option ${name}`;

function text(name: string, value: unknown): string {
  if (typeof value !== "string" || value === "")
    throw new ArgumentError(option(name), `expected a non-empty string, got ${value === "" ? '""' : String(value)}`);
  return value;
}

function optionalObject(name: string, value: unknown): object | undefined {
  if (value !== undefined && (value === null || typeof value !== "object" || Array.isArray(value)))
    throw new ArgumentError(option(name), `expected an object, got ${String(value)}`);
  return value ?? undefined;
}

function flag(name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean")
    throw new ArgumentError(option(name), `expected true or false, got ${String(value)}`);
  return value ?? false;
}

/** Checks every option (unknown keys too) and fills in the defaults. Throws ArgumentError naming the option. */
export function fillNodeOptions(input: NodeOptionsInput): NodeOptions {
  if (input === null || typeof input !== "object")
    throw new ArgumentError("worker node options", `expected an object, got ${String(input)}`);
  for (const key of Object.keys(input)) {
    if (!(KNOWN as readonly string[]).includes(key))
      throw new ArgumentError(option(key), `unknown (known: ${KNOWN.join(", ")})`);
  }
  if (
    !Array.isArray(input.jobServers) ||
    input.jobServers.length === 0 ||
    !input.jobServers.every((s) => typeof s === "string")
  ) {
    throw new ArgumentError(option("jobServers"), "expected a list of at least one host:port");
  }
  try {
    parseAddressList(input.jobServers);
  } catch (error) {
    throw new ArgumentError(option("jobServers"), (error as Error).message, { cause: error });
  }
  const threads =
    input.threads === undefined ? os.availableParallelism() : wholeNumber(option("threads"), input.threads, 1);
  if (
    input.secret !== undefined &&
    (typeof input.secret !== "string" || Buffer.byteLength(input.secret) < MIN_SECRET_BYTES)
  ) {
    throw new ArgumentError(option("secret"), `the cluster secret needs at least ${MIN_SECRET_BYTES} bytes`);
  }
  const allowSource = input.allowSource ?? "auto";
  if (allowSource !== true && allowSource !== false && allowSource !== "auto")
    throw new ArgumentError(option("allowSource"), `expected true, false or "auto", got ${String(allowSource)}`);
  const allowedModules = input.allowedModules ?? [];
  if (!Array.isArray(allowedModules) || !allowedModules.every((m) => typeof m === "string" && m !== "")) {
    throw new ArgumentError(option("allowedModules"), "expected a list of module specifiers");
  }
  const curve = optionalObject("curve", input.curve) as NodeOptionsInput["curve"];
  if (curve) {
    text("curve.publicKey", curve.publicKey);
    text("curve.secretKey", curve.secretKey);
  }
  const tls = optionalObject("tls", input.tls) as NodeOptionsInput["tls"];
  const labels = input.labels ?? [];
  if (!Array.isArray(labels))
    throw new ArgumentError(option("labels"), `expected a list of labels, got ${String(labels)}`);
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem !== undefined) throw new ArgumentError(option("labels"), problem);
  }
  const exclusive = flag("exclusive", input.exclusive);
  if (exclusive && labels.length === 0)
    throw new ArgumentError(
      option("exclusive"),
      "an exclusive node serves only labelled maps: give it at least one label",
    );
  return Object.freeze({
    labels: Object.freeze([...new Set(labels as string[])]),
    exclusive,
    maxChunks: input.maxChunks === undefined ? undefined : wholeNumber(option("maxChunks"), input.maxChunks, 1),
    exitWhenDone: flag("exitWhenDone", input.exitWhenDone),
    drained: flag("drained", input.drained),
    jobServers: Object.freeze([...input.jobServers]),
    commandUrl: text("commandUrl", input.commandUrl),
    logUrl: text("logUrl", input.logUrl),
    threads,
    prefetch: input.prefetch === undefined ? 1 : wholeNumber(option("prefetch"), input.prefetch, 0),
    nodeId:
      input.nodeId === undefined
        ? `glimpse-node:${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`
        : text("nodeId", input.nodeId),
    graceMs: input.graceMs === undefined ? 30_000 : wholeNumber(option("graceMs"), input.graceMs, 0),
    memoryWaitMs:
      input.memoryWaitMs === undefined ? 30_000 : wholeNumber(option("memoryWaitMs"), input.memoryWaitMs, 1),
    resourceLimits: optionalObject("resourceLimits", input.resourceLimits) as ResourceLimits | undefined,
    secret: input.secret,
    tls: tls && Object.freeze({ ...tls }),
    curve: curve && Object.freeze({ publicKey: curve.publicKey, secretKey: curve.secretKey }),
    signatureMaxAgeMs:
      input.signatureMaxAgeMs === undefined
        ? 300_000
        : wholeNumber(option("signatureMaxAgeMs"), input.signatureMaxAgeMs, 1),
    policy: resolvePolicy(allowSource, input.secret !== undefined, input.jobServers, allowedModules),
  });
}
