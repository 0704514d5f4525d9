/**
 * The client's end of the log channel: what the worker nodes (and, for a
 * dashboard, other pools) publish, handed to whoever listens.
 *
 *   log channel ──LoopingSubscriber (signature checked with a cluster key)──► parseLog ──► listeners
 *                                                                              (commands' answers, the node directory,
 *   this process's own maps' progress (ProgressChannel) ──deliver──────────────► shared memory, watch(), records())
 *
 * A refused message (unsigned, forged, replayed) becomes a process warning,
 * once per reason, unless the options say otherwise.
 */
import {
  CHANNEL_VERSION,
  TOPIC_LOG,
  TOPIC_PROGRESS,
  TOPIC_REPLY,
  otherVersion,
  parseLog,
  versionText,
  type LogEnvelope,
  type RecordOutput,
} from "../channels/messages.js";
import { LoopingSubscriber } from "../channels/subscriber.js";
import { MessageGuard } from "../security/message-guard.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";
import type { SignatureError } from "../security/errors.js";
import { endOf, type ChannelEnd } from "./reachability.js";
import { ConnectionWatch } from "../channels/connection-watch.js";
import { Condition } from "../condition.js";
import { PACKAGE_VERSION } from "../version.js";

/** Nodes of another channel version remembered at most (a flood of forged senders must not grow without bound). */
const OTHER_VERSIONS_KEPT = 1000;

export type LogListener = (envelope: LogEnvelope) => void;

/**
 * A record's message as followers show it: worker output says whose it is ("stdout of item 3 (map ID): ...",
 * a submitted call's "stdout of fn(5) (map ID): ...").
 */
export function recordText(message: { readonly message: string; readonly output?: RecordOutput }): string {
  const { output } = message;
  if (output === undefined) return message.message;
  const writer = typeof output.call === "string" ? output.call : `item ${output.index}`;
  return `${output.stream} of ${writer} (map ${output.mapId}): ${message.message}`;
}

/** A log record as records() yields it: its envelope, with the level and message lifted out. */
export type LogRecord = LogEnvelope & { level: string; message: string } & Record<string, unknown>;

export interface LogChannelOptions {
  /** Where log messages are heard: the broker's log backend, or (bind) our own address in direct mode. */
  readonly url: string;
  readonly bind: boolean;
  readonly key?: ClusterKey;
  readonly signatureMaxAgeMs?: number;
  readonly curve?: CurveSettings;
  /** Also hear other clients' map progress (a dashboard). */
  readonly watchProgress?: boolean;
  readonly onRefused?: (error: SignatureError, topic: string) => void;
}

export class LogChannel {
  private readonly subscriber: LoopingSubscriber;
  private readonly listeners = new Set<LogListener>();
  private readonly warned = new Set<string>();
  /** Nodes heard speaking another channel protocol version: the version each spoke. */
  private readonly otherVersions = new Map<string, unknown>();
  /** What the connection to a broker met (none in direct mode: the end is bound). */
  private readonly connectionWatch: ConnectionWatch | undefined;
  /** Woken when the connection to a broker comes up or drops. */
  private readonly connection = new Condition();
  /** Whether the nodes' log records are heard (hearRecords). */
  private recordsHeard = false;

  constructor(private readonly options: LogChannelOptions) {
    this.subscriber = new LoopingSubscriber({
      guard: options.key && new MessageGuard(options.key, { maxAgeMs: options.signatureMaxAgeMs }),
      kind: "log",
      onRefused: (error, topic) => this.onRefused(error, topic),
    });
    if (!options.bind) this.connectionWatch = new ConnectionWatch(this.subscriber.socket, () => this.connection.wake());
  }

  /** Whether the end is reached (bound, or connected now), waiting up to `waitMs` for a connection. */
  whenReached(waitMs: number): Promise<boolean> {
    return this.connection.until(() => this.end.reached, waitMs);
  }

  async open(): Promise<void> {
    const { url, bind, curve, watchProgress } = this.options;
    const topics = watchProgress ? [TOPIC_REPLY, TOPIC_PROGRESS] : [TOPIC_REPLY];
    await this.subscriber.open({ url, bind, curve }, topics, (_topic, body) => {
      const envelope = parseLog(body);
      if (envelope) this.deliver(envelope);
      else this.heardOtherVersion(body);
    });
  }

  /**
   * A node of another channel protocol version neither reads this client's commands nor is read:
   * said once per node, and remembered for the errors of commands it leaves unanswered.
   */
  private heardOtherVersion(body: Buffer): void {
    const other = otherVersion(body);
    if (other === undefined || this.otherVersions.has(other.sender)) return;
    if (this.otherVersions.size >= OTHER_VERSIONS_KEPT) return;
    this.otherVersions.set(other.sender, other.version);
    const where = other.host === undefined ? "" : ` (${other.host}:${other.pid})`;
    // Progress comes from pools (a dashboard hears them), which take no commands; everything else from worker nodes.
    const pool = other.type === "progress";
    process.emitWarning(
      `${pool ? "pool" : "worker node"} ${other.sender}${where} speaks channel protocol version ` +
        `${versionText(other.version)}, this client version ${CHANNEL_VERSION} (glimpse-cluster ${PACKAGE_VERSION}): ` +
        (pool
          ? "its map progress is ignored"
          : "its messages are ignored and it ignores this client's commands (setMemory, ping, drain)") +
        "; run one glimpse-cluster version on the pools, the CLI and the worker nodes",
      { code: "GLIMPSE_CHANNEL_VERSION" },
    );
  }

  /** `node`, with the channel protocol version it was heard speaking when that is not this client's. */
  describeNode(node: string): string {
    const version = this.otherVersions.get(node);
    return version === undefined
      ? node
      : `${node} (it speaks channel protocol version ${versionText(version)}, this client version ${CHANNEL_VERSION})`;
  }

  /** The endpoint actually used: the bound address, with its port, in direct mode. */
  get endpoint(): string {
    return this.subscriber.endpoint;
  }

  /** The endpoint, and whether it is reached: bound, or connected (to a broker) now. */
  get end(): ChannelEnd {
    const { bind } = this.options;
    return endOf("log", this.endpoint, bind, this.connectionWatch);
  }

  /** Hands every log message heard (and every one delivered here) to `listener`; returns the function that stops it. */
  watch(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hands a message to the listeners as if it had been heard (this process's own maps' progress). */
  deliver(envelope: LogEnvelope): void {
    for (const listener of this.listeners) listener(envelope);
  }

  /**
   * Hears the nodes' log records (worker output among them) from now on. Not by default: a pool hears its
   * own maps' output on their jobs, and would otherwise get every line a second time over the channel.
   * Followers (records(), a dashboard) ask for them.
   */
  hearRecords(): void {
    if (this.recordsHeard) return;
    this.recordsHeard = true;
    this.subscriber.subscribe(TOPIC_LOG);
  }

  /** The nodes' log records as they arrive (heard from now on), until the signal aborts. */
  async *records(signal: AbortSignal): AsyncGenerator<LogRecord> {
    this.hearRecords();
    const queue: LogEnvelope[] = [];
    let wake: (() => void) | undefined;
    const stopWatching = this.watch((envelope) => {
      if (envelope.message.type !== "record") return;
      queue.push(envelope);
      wake?.();
    });
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          const record = next.message as { level: string; message: string; output?: RecordOutput };
          const output = record.output === undefined ? {} : { output: record.output };
          yield { ...next, level: record.level, message: recordText(record), ...output } as never;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      stopWatching();
      signal.removeEventListener("abort", onAbort);
    }
  }

  private onRefused(error: SignatureError, topic: string): void {
    if (this.options.onRefused) return this.options.onRefused(error, topic);
    if (this.warned.has(error.reason)) return;
    this.warned.add(error.reason);
    process.emitWarning(`${error.message} (further ${error.reason} refusals are not reported)`, {
      code: "GLIMPSE_REFUSED",
    });
  }

  close(): Promise<void> {
    return this.subscriber.close();
  }
}
