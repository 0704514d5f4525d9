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
import { ArgumentError } from "../argument-error.js";
import type { StreamOpener } from "../gearman/transport.js";
import {
  REFUSED,
  Refusal,
  Rule,
  flag,
  func,
  list,
  object,
  oneOf,
  optionsSchema,
  plainObject,
  text,
  whole,
  type Filled,
  type RulesOf,
} from "../options-schema.js";
import { labelRule } from "../wire/labels.js";
import { DEFAULT_MAX_PACKET_SIZE } from "../gearman/packet.js";

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
  /**
   * The largest packet data the job servers carry ([client] max_packet_size): larger chunks are not
   * accepted, and results that would be larger are answered "too large" (naming the largest) instead
   * of being sent. Default 64 MiB.
   */
  maxPacketSize?: number;
  /**
   * The pool's payload directory, when this node shares its host (a local cluster's node): chunks that come
   * as a reference to a file there are read from it, and their large results written into the file the pool
   * made for them (lib/wire/payload-file.ts). Without it such a chunk fails, naming its file. Default: none.
   */
  payloadDirectory?: string;
}

const jobServers = list(text("host:port"), "a list of at least one host:port", 1).after((servers) => {
  try {
    parseAddressList(servers);
    return servers;
  } catch (error) {
    if (error instanceof ArgumentError) return new Refusal(error.problem);
    throw error;
  }
});

const secret = new Rule("a cluster secret", (value) =>
  typeof value === "string" && Buffer.byteLength(value) >= MIN_SECRET_BYTES
    ? value
    : new Refusal(`the cluster secret needs at least ${MIN_SECRET_BYTES} bytes`),
);

const pem = new Rule("PEM text", (value) => (typeof value === "string" ? value : REFUSED));

const NODE = optionsSchema("worker node", {
  jobServers,
  commandUrl: text(),
  logUrl: text(),
  threads: whole(1).defaultFrom(() => os.availableParallelism()),
  prefetch: whole(0).default(1),
  nodeId: text().defaultFrom(() => `glimpse-node:${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`),
  graceMs: whole(0).default(30_000),
  memoryWaitMs: whole(1).default(30_000),
  resourceLimits: plainObject<ResourceLimits>().optional(),
  secret: secret.optional(),
  signatureMaxAgeMs: whole(1).default(300_000),
  allowSource: oneOf(true, false, "auto").default("auto"),
  allowedModules: list(text("a module specifier"), "a list of module specifiers").default([]),
  curve: object({ publicKey: text(), secretKey: text() }).optional(),
  tls: object({ ca: pem.optional(), cert: pem.optional(), key: pem.optional() }).optional(),
  labels: list(labelRule, "a list of labels")
    .after((labels) => Object.freeze([...new Set(labels)]))
    .default([]),
  exclusive: flag().default(false),
  maxChunks: whole(1).optional(),
  exitWhenDone: flag().default(false),
  drained: flag().default(false),
  maxPacketSize: whole(1024).default(DEFAULT_MAX_PACKET_SIZE),
  payloadDirectory: text().optional(),
} satisfies RulesOf<NodeOptionsInput>);

export type NodeOptions = Filled<typeof NODE.rules> & { readonly policy: FunctionPolicy };

/** Checks every option (unknown keys too) and fills in the defaults. Throws ArgumentError naming the option. */
export function fillNodeOptions(input: NodeOptionsInput): NodeOptions {
  const options = NODE.fill(input);
  if (options.exclusive && options.labels.length === 0)
    NODE.refuse("exclusive", "an exclusive node serves only labelled maps: give it at least one label");
  const { allowSource, secret, allowedModules } = options;
  return Object.freeze({
    ...options,
    policy: resolvePolicy(allowSource, secret !== undefined, options.jobServers, allowedModules),
  });
}

/** A WorkerNode's links to its job server in the same process (WorkerNodeLinks), checked as its options are. */
export const NODE_LINKS = optionsSchema(
  "WorkerNode",
  { open: func<StreamOpener>("a function returning a stream (or undefined)").optional() },
  "link",
);
