/**
 * A worker node's ends of the two channels: it listens for commands (to all
 * nodes, or to itself) and publishes log records, acknowledgements, ping
 * replies and memory requests. A command published again (until acknowledged)
 * is acknowledged again but carried out once. With a cluster key, commands
 * must be signed (and new) and log messages are signed; a refused command is
 * logged and never carried out.
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import {
  CHANNEL_VERSION,
  TOPIC_ALL,
  TOPIC_LOG,
  TOPIC_REPLY,
  nodeTopic,
  otherVersion,
  parseCommand,
  versionText,
  type Command,
  type CommandEnvelope,
  type LogLevel,
  type LogMessage,
  type NodeState,
  type NodeStatsSnapshot,
} from "../channels/messages.js";
import { QueuedPublisher } from "../channels/publisher.js";
import { LoopingSubscriber } from "../channels/subscriber.js";
import { MessageGuard } from "../security/message-guard.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { SignatureError } from "../security/errors.js";
import type { NodeOptions } from "./node-options.js";
import { RefusalLog } from "./refusal-log.js";
import { decodeMemory } from "../wire/memory-codec.js";
import { PACKAGE_VERSION } from "../version.js";
import type { OutputLine } from "./thread-output.js";

export interface CommandHandlers {
  quit(): void;
  restart(): void;
  ping(): NodeStatsSnapshot;
  setMemory(entries: Record<string, unknown>, version: number): void;
  clearMemory(version: number): void;
  /** Stops running chunks: those of a map (by map id), or one attempt of a chunk (by its job's unique id). */
  cancel(ids: readonly string[]): void;
  drain(): void;
  online(): void;
  /** The memory version the node holds, for acknowledgements. */
  memoryVersion(): number;
  /** The node's state, for acknowledgements. */
  state(): NodeState;
}

const SEEN_LIMIT = 1000;

export class NodeChannels {
  private readonly commands: LoopingSubscriber;
  private readonly logs: QueuedPublisher;
  private readonly seen = new Set<string>();
  private readonly host = os.hostname();
  private counter = 0;
  private readonly prefix = randomBytes(4).toString("hex");
  private closed = false;
  /** The last set-memory whose entries did not decode, so that its repetitions are answered alike. */
  private unreadMemory: { readonly id: string; readonly why: string } | undefined;
  /** Refused commands and chunks, rate-limited. */
  readonly refusals: RefusalLog;

  constructor(
    private readonly options: NodeOptions,
    private readonly nodeId: string,
    key: ClusterKey | undefined,
  ) {
    this.refusals = new RefusalLog(nodeId, (line) => this.log("warning", line));
    this.logs = new QueuedPublisher(key && { key, kind: "log" });
    this.commands = new LoopingSubscriber({
      guard: key && new MessageGuard(key, { maxAgeMs: options.signatureMaxAgeMs }),
      kind: "command",
      onRefused: (error, topic, body) => this.onRefused(error, topic, body),
    });
  }

  /** Logs a refused command (here and on the log channel) with what it claims about its sender. */
  private onRefused(error: SignatureError, _topic: string, body: Buffer): void {
    const claimed = parseCommand(body);
    const sender = claimed
      ? ` (it claims to be ${claimed.command.type} from ${String(claimed.from).slice(0, 80)})`
      : "";
    this.refusals.write(`${error.message}${sender}, via ${this.options.commandUrl}; not carried out`);
  }

  async open(handlers: CommandHandlers): Promise<void> {
    await this.logs.open({ url: this.options.logUrl, bind: false, curve: this.options.curve });
    await this.commands.open(
      { url: this.options.commandUrl, bind: false, curve: this.options.curve },
      [TOPIC_ALL, nodeTopic(this.nodeId)],
      (_topic, body) => {
        const envelope = parseCommand(body);
        if (envelope) this.onCommand(envelope, handlers);
        else this.refuseOtherVersion(body);
      },
    );
  }

  /** A command of another channel protocol version is refused aloud (a set-memory of version 1 would be read as empty memory). */
  private refuseOtherVersion(body: Buffer): void {
    const other = otherVersion(body);
    if (other === undefined) return;
    this.refusals.write(
      `refused ${other.type ?? "a command"} from ${other.sender}: it speaks channel protocol version ` +
        `${versionText(other.version)}, this node version ${CHANNEL_VERSION} (glimpse-cluster ${PACKAGE_VERSION}); ` +
        `run one glimpse-cluster version on the pools, the CLI and the worker nodes`,
    );
  }

  private onCommand(envelope: CommandEnvelope, handlers: CommandHandlers): void {
    const command: Command = envelope.command;
    const first = !this.seen.has(envelope.id);
    if (first) {
      this.seen.add(envelope.id);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value!);
    }
    let error: string | undefined;
    switch (command.type) {
      case "ping":
        return this.reply({ type: "pong", commandId: envelope.id, stats: handlers.ping() });
      case "cancel":
        if (first) handlers.cancel(command.mapIds);
        return;
      case "set-memory":
        error = this.setMemory(command, envelope, handlers, first);
        break;
      case "clear-memory":
        if (first) handlers.clearMemory(command.version);
        break;
      case "drain":
        if (first) handlers.drain();
        break;
      case "online":
        if (first) handlers.online();
        break;
    }
    this.reply({
      type: "ack",
      commandId: envelope.id,
      command: command.type,
      memoryVersion: handlers.memoryVersion(),
      state: handlers.state(),
      ...(error === undefined ? {} : { error }),
    });
    if (first && command.type === "quit") handlers.quit();
    if (first && command.type === "restart") handlers.restart();
  }

  /** Hands the entries on (once per command); why not, when they do not decode here (logged once, answered every time). */
  private setMemory(
    command: Extract<Command, { type: "set-memory" }>,
    envelope: CommandEnvelope,
    handlers: CommandHandlers,
    first: boolean,
  ): string | undefined {
    if (!first) return this.unreadMemory?.id === envelope.id ? this.unreadMemory.why : undefined;
    try {
      handlers.setMemory(decodeMemory(command.memory), command.version);
      return undefined;
    } catch (error) {
      const why = (error as Error).message;
      this.unreadMemory = { id: envelope.id, why };
      this.log("error", `set-memory version ${command.version} from ${envelope.from}: ${why}`);
      return why;
    }
  }

  private reply(message: LogMessage): void {
    this.publish(TOPIC_REPLY, message);
  }

  private publish(topic: string, message: LogMessage): void {
    if (this.closed) return;
    void this.logs.send(
      topic,
      JSON.stringify({
        v: CHANNEL_VERSION,
        id: `${this.prefix}-${++this.counter}`,
        node: this.nodeId,
        host: this.host,
        pid: process.pid,
        time: Date.now(),
        message,
      }),
    );
  }

  log(level: LogLevel, message: string): void {
    this.publish(TOPIC_LOG, { type: "record", level, message });
  }

  /** One console call of a function, for the client that ran its map (and every log follower). */
  output(line: OutputLine): void {
    const { mapId, chunk, index, call, stream, text } = line;
    this.publish(TOPIC_LOG, {
      type: "record",
      level: stream === "stderr" ? "error" : "info",
      message: text,
      output: { mapId, chunk, index, ...(call === undefined ? {} : { call }), stream },
    });
  }

  requestMemory(version: number): void {
    this.reply({ type: "need-memory", version });
  }

  async close(): Promise<void> {
    this.refusals.close();
    await this.logs.close();
    this.closed = true;
    await this.commands.close();
  }
}
