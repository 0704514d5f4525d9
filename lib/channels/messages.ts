/**
 * What travels on the two channels. Commands go from clients to worker
 * nodes; log messages (records, acknowledgements, ping replies, memory
 * requests) go from worker nodes to clients. Bodies are JSON.
 */

/**
 * The channel protocol's version, in every envelope (`v`). It changes when a message changes in a
 * way an older reader would misread rather than ignore: 2, set-memory carries its entries as
 * `memory` (V8, base64) where version 1 carried `entries` (JSON), which a version 1 node took
 * for empty memory. A message of another version is refused, naming its sender and both versions
 * (otherVersion), never half-read.
 */
export const CHANNEL_VERSION = 2;

/**
 * A worker node's state (docs/labels.md): serving takes chunks; draining has
 * unregistered its functions and finishes the chunks it runs; drained runs none.
 */
export type NodeState = "serving" | "draining" | "drained";

/** What a worker node reports when pinged (the original's HOST, PID, NUM_REQUESTS, ELAPSED_TIME, START_TIME, and more). */
export interface NodeStatsSnapshot {
  /** The node's id (its Gearman client id). */
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** Chunks run since start. */
  readonly numRequests: number;
  /** Seconds spent running chunks, summed. */
  readonly elapsedTime: number;
  /** When the node started, in ms since the epoch. */
  readonly startTime: number;
  readonly threads: number;
  /** Threads running a chunk now (at most `threads`). */
  readonly busy: number;
  /** Chunks the node took that wait on its threads behind a running one (`[server] prefetch`), or for a thread. */
  readonly prefetched: number;
  /** Items mapped since start. */
  readonly itemsDone: number;
  /** Version of the shared memory the node holds. */
  readonly memoryVersion: number;
  /** The node's labels (it registers glimpse_map:LABEL for each while serving). */
  readonly labels: string[];
  /** Whether it serves only labelled maps (registers no plain glimpse_map). */
  readonly exclusive: boolean;
  readonly state: NodeState;
  /** Chunks it took but handed back unrun (prefetched when it was drained) since start. */
  readonly handedBack: number;
}

export type Command =
  | { readonly type: "quit" }
  | { readonly type: "restart" }
  | { readonly type: "ping" }
  /**
   * Replaces the node's shared memory with the entries `memory` carries if `version` is newer than what it
   * holds: V8 structured clone, base64 (lib/wire/memory-codec.ts), so they arrive as map items do.
   */
  | { readonly type: "set-memory"; readonly version: number; readonly memory: string }
  | { readonly type: "clear-memory"; readonly version: number }
  /** Stops the running chunks of these maps (map ids), or single chunk attempts (their job unique ids). */
  | { readonly type: "cancel"; readonly mapIds: readonly string[] }
  /** Unregister every function, finish the running chunks, hand back the waiting ones; stay up. */
  | { readonly type: "drain" }
  /** Register the node's functions again. */
  | { readonly type: "online" };

export type CommandType = Command["type"];

export interface CommandEnvelope {
  readonly v: number;
  /** Unique per command: acknowledgements name it. */
  readonly id: string;
  /** The sender (a pool or CLI), for logs. */
  readonly from: string;
  readonly time: number;
  readonly command: Command;
}

export type LogLevel = "debug" | "info" | "warning" | "error";

/** Where a pool's map is, as it publishes it (throttled) for dashboards. */
export interface MapProgress {
  readonly mapId: string;
  /** The mapped function's name. */
  readonly function: string;
  /** Items whose results came back. */
  readonly done: number;
  /** Items in all, when the input's length is known. */
  readonly total: number | undefined;
  /** Items that failed (pool Progress.failed). */
  readonly failed: number;
  /** Retries spent on its chunks (absent from pools that predate it). */
  readonly retries?: number;
  readonly state: "running" | "finished" | "failed";
  /** Why it failed (its error's message, at most 1000 characters), on its last update when it failed. */
  readonly error?: string;
  /** When the map started, ms since the epoch. */
  readonly started: number;
}

/** Where a record of worker output comes from: a function's console call while it mapped an item. */
export interface RecordOutput {
  readonly mapId: string;
  readonly chunk: number;
  /** The item's index within the whole map. */
  readonly index: number;
  /** For a call made with pool.submit or pool.apply: the call, `fn(5)`, as its RemoteError names it. */
  readonly call?: string;
  readonly stream: "stdout" | "stderr";
}

export type LogMessage =
  | {
      readonly type: "record";
      readonly level: LogLevel;
      readonly message: string;
      /** Present on worker output: the message is what a function wrote (level info for stdout, error for stderr). */
      readonly output?: RecordOutput;
    }
  | {
      readonly type: "ack";
      readonly commandId: string;
      readonly command: CommandType;
      readonly memoryVersion: number;
      readonly state: NodeState;
      /** The command could not be carried out (a set-memory whose entries do not decode here): why. */
      readonly error?: string;
    }
  | { readonly type: "pong"; readonly commandId: string; readonly stats: NodeStatsSnapshot }
  /** The node needs at least this memory version to run a chunk it holds. */
  | { readonly type: "need-memory"; readonly version: number }
  /** A pool's map progress (sent by pools, not nodes: `node` is the pool's id). */
  | ({ readonly type: "progress" } & MapProgress);

export interface LogEnvelope {
  readonly v: number;
  readonly id: string;
  /** The sending node's id. */
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  readonly time: number;
  readonly message: LogMessage;
}

/** Topics: commands go to "all" or one node ("node:<id>"); log messages are "log" (records), "progress" (pools' maps) or "reply" (everything else). */
export const TOPIC_ALL = "all";
export const nodeTopic = (nodeId: string) => `node:${nodeId}`;
export const TOPIC_LOG = "log";
export const TOPIC_REPLY = "reply";
export const TOPIC_PROGRESS = "progress";

const COMMAND_TYPES = new Set(["quit", "restart", "ping", "set-memory", "clear-memory", "cancel", "drain", "online"]);
const LOG_TYPES = new Set(["record", "ack", "pong", "need-memory", "progress"]);

/** Decodes a command frame; returns undefined (never throws) for anything malformed. */
export function parseCommand(body: Buffer): CommandEnvelope | undefined {
  const value = parseJson(body) as CommandEnvelope | undefined;
  if (
    !value ||
    value.v !== CHANNEL_VERSION ||
    typeof value.id !== "string" ||
    !COMMAND_TYPES.has((value.command as { type?: string })?.type ?? "")
  )
    return undefined;
  return value;
}

export function parseLog(body: Buffer): LogEnvelope | undefined {
  const value = parseJson(body) as LogEnvelope | undefined;
  if (
    !value ||
    value.v !== CHANNEL_VERSION ||
    typeof value.node !== "string" ||
    !LOG_TYPES.has((value.message as { type?: string })?.type ?? "")
  )
    return undefined;
  return value;
}

/** A message of another channel protocol version, as much of it as names its sender and kind. */
export interface OtherVersion {
  /** The version it speaks (its `v`: a number for any glimpse-cluster; shown as it came otherwise). */
  readonly version: unknown;
  /** Who sent it: a command's `from`, a log message's `node`. */
  readonly sender: string;
  /** Its command's or log message's type, when it has one. */
  readonly type: string | undefined;
  /** Where a log message's node runs. */
  readonly host?: string;
  readonly pid?: number;
}

/** A command or log frame whose envelope speaks another version than CHANNEL_VERSION; undefined for ours and for malformed frames. */
export function otherVersion(body: Buffer): OtherVersion | undefined {
  const value = parseJson(body) as Record<string, unknown> | undefined;
  if (!value || !("v" in value) || value.v === CHANNEL_VERSION) return undefined;
  const inner = (value.command ?? value.message) as { type?: unknown } | undefined;
  const sender = value.from ?? value.node;
  if (typeof sender !== "string") return undefined;
  return {
    version: value.v,
    sender: sender.slice(0, 200),
    type: typeof inner?.type === "string" ? inner.type.slice(0, 40) : undefined,
    ...(typeof value.host === "string" ? { host: value.host.slice(0, 200) } : {}),
    ...(typeof value.pid === "number" ? { pid: value.pid } : {}),
  };
}

/** How a refusal shows the version a message spoke. */
export const versionText = (version: unknown): string =>
  typeof version === "number" ? String(version) : (JSON.stringify(version)?.slice(0, 40) ?? String(version));

function parseJson(body: Buffer): unknown {
  try {
    const value = JSON.parse(body.toString("utf8"));
    return value !== null && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}
