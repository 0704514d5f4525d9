/**
 * The client's side of the command and log channels: everything a pool or the
 * CLI asks of the worker nodes beside Gearman.
 *
 *   setMemory / clearMemory / ping / quit / restart ──publishUntilAnswered──► command channel ──► worker nodes
 *        ▲ done when every live node (LiveNodes: registered at the job servers) answered, or at the deadline │
 *        └──────────────────────────── acks, pongs (log channel) ◄────────────────────────────────────────────┘
 *   need-memory from a node ──► PoolMemory's whole state, to that node alone
 *   drain / online SELECTOR ──ping, select──► published to the selected nodes until each acknowledged
 *   cancel (a map, or one chunk attempt) ──► published twice, best effort
 *   log records ──► logRecords()
 *
 * With a cluster key, commands are signed and log messages must be signed;
 * a refused log message becomes a process warning (once per reason).
 */
import { randomBytes } from "node:crypto";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import os from "node:os";
import {
  CHANNEL_VERSION,
  TOPIC_ALL,
  TOPIC_LOG,
  TOPIC_PROGRESS,
  TOPIC_REPLY,
  nodeTopic,
  parseLog,
  type Command,
  type LogEnvelope,
  type MapProgress,
  type NodeStatsSnapshot,
} from "../channels/messages.js";
import { QueuedPublisher } from "../channels/publisher.js";
import { LoopingSubscriber } from "../channels/subscriber.js";
import { MessageGuard } from "../security/message-guard.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";
import type { SignatureError } from "../security/errors.js";
import { LiveNodes } from "./live-nodes.js";
import type { AdminClient } from "../gearman/admin.js";
import { PoolMemory } from "./pool-memory.js";
import { publishUntilAnswered, type CommandChannel, type Publication } from "./publish-until-answered.js";
import { memoryNotAcknowledged, noMatchingNode, noNodeForLabel, notAcknowledged } from "./errors.js";
import { describeNodes, describeSelector, selects, type NodeSelector } from "./node-selector.js";
import { functionLabel, labelFunction } from "../wire/labels.js";

export type { NodeStatsSnapshot as NodeStats };

export interface ControlOptions {
  readonly jobServers: readonly string[];
  /** Where commands are published: the broker's command frontend, or (bind) our own address in direct mode. */
  readonly commandUrl: string;
  readonly commandBind: boolean;
  /** Where log messages are heard: the broker's log backend, or (bind) our own address in direct mode. */
  readonly logUrl: string;
  readonly logBind: boolean;
  /** How long setMemory / clearMemory wait for every live node's acknowledgement, in ms. Default 30000. */
  readonly memoryAckMs?: number;
  /** The cluster key: commands are signed with it, and log messages must be signed with it. None: nothing is signed or checked. */
  readonly key?: ClusterKey;
  /** Oldest log message accepted, in ms (replay window). Default 300000. */
  readonly signatureMaxAgeMs?: number;
  /** TLS to the job servers, for the admin connections that list live nodes. */
  readonly tls?: GearmanTlsOptions;
  /** The cluster's CURVE keys: both channels encrypted, only key holders admitted. None: plain TCP. */
  readonly curve?: CurveSettings;
  /**
   * Where this client publishes its maps' progress for dashboards: the
   * broker's log frontend. None (direct mode): progress reaches only this
   * process's own listeners (watch()).
   */
  readonly progressUrl?: string;
  /** Also hear other clients' map progress (a dashboard). Default false. */
  readonly watchProgress?: boolean;
  /** A log message was refused (unsigned, forged, replayed); default: a process warning, once per reason. */
  readonly onRefused?: (error: SignatureError, topic: string) => void;
}

/** What a cluster command could reach: each job server (by its admin connection) and each channel endpoint. */
export interface Reach {
  readonly jobServers: readonly { readonly server: string; readonly reached: boolean; readonly error?: string }[];
  /** A bound endpoint (direct mode) is ours and counts as reached; a connected one once ZeroMQ connected to it. */
  readonly channels: readonly {
    readonly channel: "command" | "log";
    readonly endpoint: string;
    readonly bind: boolean;
    readonly reached: boolean;
  }[];
}

type Listener = (envelope: LogEnvelope) => void;

const isAckOf = (envelope: LogEnvelope, id: string) =>
  envelope.message.type === "ack" && envelope.message.commandId === id;

/** What one node can be told by its id (the dashboard's row buttons). */
export type NodeAction = "quit" | "restart" | "drain" | "online";

export class ClusterControl {
  private readonly publisher: QueuedPublisher;
  private readonly subscriber: LoopingSubscriber;
  private readonly warned = new Set<string>();
  private readonly live: LiveNodes;
  private readonly listeners = new Set<Listener>();
  private readonly nodes = new Map<string, NodeStatsSnapshot>();
  /** Node ids heard on the log channel (a drained node registers no function, so only its id tells it is a node). */
  private readonly heard = new Set<string>();
  private readonly memory = new PoolMemory();
  private readonly id = `client-${randomBytes(4).toString("hex")}`;
  private counter = 0;
  private closed = false;
  private commandReached = false;
  private logReached = false;
  /** Opened on the first progress published, when there is a progressUrl. */
  private progressPublisher: Promise<QueuedPublisher> | undefined;
  private progressCounter = 0;
  /** Publishing's view of the channel ends. */
  private readonly channel: CommandChannel = {
    send: (command, topic, id) => this.send(command, topic, id),
    nextId: () => this.nextId(),
    listen: (listener) => {
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    },
    liveNodes: () => this.liveNodes(),
  };

  private constructor(private readonly options: ControlOptions) {
    this.publisher = new QueuedPublisher(options.key && { key: options.key, kind: "command" });
    this.subscriber = new LoopingSubscriber({
      guard: options.key && new MessageGuard(options.key, { maxAgeMs: options.signatureMaxAgeMs }),
      kind: "log",
      onRefused: (error, topic) => this.onRefused(error, topic),
    });
    this.live = new LiveNodes(options.jobServers, options.tls, (id) => this.heard.has(id));
    if (!options.commandBind) this.publisher.socket.events.on("connect", () => (this.commandReached = true));
    if (!options.logBind) this.subscriber.socket.events.on("connect", () => (this.logReached = true));
  }

  /**
   * Which job servers answered the admin connection (asking them now if
   * none was asked yet) and which channel endpoints ZeroMQ connected to.
   */
  async reach(): Promise<Reach> {
    const { live, options } = this;
    if (live.reached.size === 0 && live.unreachable.size === 0) await live.list();
    return {
      jobServers: options.jobServers.map((server) => ({
        server,
        reached: live.reached.has(server) && !live.unreachable.has(server),
        error: live.unreachable.get(server),
      })),
      channels: [
        {
          channel: "command",
          endpoint: this.commandEndpoint,
          bind: options.commandBind,
          reached: options.commandBind || this.commandReached,
        },
        {
          channel: "log",
          endpoint: this.logEndpoint,
          bind: options.logBind,
          reached: options.logBind || this.logReached,
        },
      ],
    };
  }

  static async open(options: ControlOptions): Promise<ClusterControl> {
    const control = new ClusterControl(options);
    try {
      await control.publisher.open({ url: options.commandUrl, bind: options.commandBind, curve: options.curve });
      const topics = options.watchProgress ? [TOPIC_LOG, TOPIC_REPLY, TOPIC_PROGRESS] : [TOPIC_LOG, TOPIC_REPLY];
      await control.subscriber.open(
        { url: options.logUrl, bind: options.logBind, curve: options.curve },
        topics,
        (_topic, body) => {
          const envelope = parseLog(body);
          if (envelope) control.onLog(envelope);
        },
      );
    } catch (error) {
      await control.close();
      throw error;
    }
    return control;
  }

  /** The job servers this client asks for the live nodes, the TLS to them, and whether messages are signed (a cluster key). */
  get cluster(): {
    readonly jobServers: readonly string[];
    readonly tls: GearmanTlsOptions | undefined;
    readonly signed: boolean;
  } {
    return { jobServers: this.options.jobServers, tls: this.options.tls, signed: this.options.key !== undefined };
  }

  /** The command endpoint actually used (the bound address, with its port, in direct mode). */
  get commandEndpoint(): string {
    return this.publisher.endpoint;
  }

  get logEndpoint(): string {
    return this.subscriber.endpoint;
  }

  private onRefused(error: SignatureError, topic: string): void {
    if (this.options.onRefused) return this.options.onRefused(error, topic);
    if (this.warned.has(error.reason)) return;
    this.warned.add(error.reason);
    process.emitWarning(`${error.message} (further ${error.reason} refusals are not reported)`, {
      code: "GLIMPSE_REFUSED",
    });
  }

  /** Log messages refused by signature checking so far. */
  get refusedMessages(): number {
    return this.subscriber.refused;
  }

  private onLog(envelope: LogEnvelope): void {
    const message = envelope.message;
    // Progress comes from pools, not nodes: a pool's id is never taken for a drained node's.
    if (message.type !== "progress" && this.heard.size < 10_000) this.heard.add(envelope.node);
    if (message.type === "pong") this.nodes.set(envelope.node, message.stats);
    if (message.type === "need-memory") {
      const answer = this.memory.answer(message.version);
      if (answer) this.send(answer, nodeTopic(envelope.node));
    }
    for (const listener of this.listeners) listener(envelope);
  }

  private send(command: Command, topic = TOPIC_ALL, id = this.nextId()): string {
    void this.publisher.send(
      topic,
      JSON.stringify({ v: CHANNEL_VERSION, id, from: this.id, time: Date.now(), command }),
    );
    return id;
  }

  private nextId(): string {
    return `${this.id}-${++this.counter}`;
  }

  /**
   * The admin connection this control keeps to one of its job servers (to
   * find the live nodes), for asking it more without opening another; it
   * stays this control's, closed by close(). Undefined for another server.
   */
  jobServerAdmin(server: string): AdminClient | undefined {
    return this.live.admin(server);
  }

  /** Worker nodes registered for glimpse_map at the job servers right now (by their node ids). */
  liveNodes(): Promise<Set<string>> {
    return this.live.list();
  }

  private publish(publication: Publication) {
    return publishUntilAnswered(this.channel, publication);
  }

  private async publishMemory(command: Command): Promise<void> {
    const waitMs = this.options.memoryAckMs ?? 30_000;
    const { missing } = await this.publish({ command, deadlineMs: waitMs, answered: isAckOf });
    if (missing.length > 0) throw memoryNotAcknowledged(command.type, missing, waitMs);
  }

  /** Merges entries into the shared memory; resolves once every live node holds the new version. */
  setMemory(entries: Record<string, unknown>): Promise<void> {
    return this.publishMemory(this.memory.set(entries));
  }

  clearMemory(): Promise<void> {
    return this.publishMemory(this.memory.clear());
  }

  /** The shared memory version a chunk submitted now needs. */
  memoryVersion(): number {
    return this.memory.version;
  }

  /** Threads of the nodes heard from so far (0 if none yet). */
  knownThreads(): number {
    let threads = 0;
    for (const node of this.nodes.values()) threads += node.threads;
    return threads;
  }

  /** Tells the nodes to stop the running chunks of a map, or one chunk attempt by its job unique id (best effort, sent twice). */
  cancelMap(mapId: string): void {
    if (this.closed) return;
    const id = this.send({ type: "cancel", mapIds: [mapId] });
    setTimeout(() => !this.closed && this.send({ type: "cancel", mapIds: [mapId] }, TOPIC_ALL, id), 200).unref();
  }

  /** Asks every node for its statistics; waits up to `waitMs`, less once every live node answered. */
  async ping(waitMs: number): Promise<NodeStatsSnapshot[]> {
    const replies = new Map<string, NodeStatsSnapshot>();
    await this.publish({
      command: { type: "ping" },
      deadlineMs: waitMs,
      answered: (e, id) => {
        if (e.message.type !== "pong" || e.message.commandId !== id) return false;
        replies.set(e.node, e.message.stats);
        return true;
      },
    });
    return [...replies.values()];
  }

  /** Hands every log message heard (records, replies, and with watchProgress every client's map progress) to `listener`; returns the function that stops it. */
  watch(listener: (envelope: LogEnvelope) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Publishes a map's progress: to this process's listeners at once, and on
   * the log channel (signed with the cluster key) when there is a progressUrl.
   */
  publishProgress(progress: MapProgress): void {
    if (this.closed) return;
    const envelope: LogEnvelope = {
      v: CHANNEL_VERSION,
      id: `${this.id}-p${++this.progressCounter}`,
      node: this.id,
      host: os.hostname(),
      pid: process.pid,
      time: Date.now(),
      message: { type: "progress", ...progress },
    };
    for (const listener of this.listeners) listener(envelope);
    const url = this.options.progressUrl;
    if (url === undefined) return;
    this.progressPublisher ??= (async () => {
      const publisher = new QueuedPublisher(this.options.key && { key: this.options.key, kind: "log" });
      await publisher.open({ url, bind: false, curve: this.options.curve });
      return publisher;
    })();
    void this.progressPublisher.then(
      (publisher) => publisher.send(TOPIC_PROGRESS, JSON.stringify(envelope)),
      () => {},
    );
  }

  /** Tells one node (by its id) to quit, restart, drain or come online; resolves true once it acknowledged, false after `waitMs`. */
  async commandNode(nodeId: string, type: NodeAction, waitMs: number): Promise<boolean> {
    const { answered } = await publishUntilAnswered(
      { ...this.channel, liveNodes: async () => new Set([nodeId]) },
      { command: { type }, deadlineMs: waitMs, answered: isAckOf, targeted: true },
    );
    return answered.has(nodeId);
  }

  /** Tells every live node to quit; resolves with the nodes that acknowledged. */
  async quitWorkers(waitMs: number): Promise<string[]> {
    const { answered } = await this.publish({
      command: { type: "quit" },
      deadlineMs: waitMs,
      answered: isAckOf,
      targeted: true,
    });
    return [...answered];
  }

  /** Tells every live node to restart (their supervisors start them again); resolves with the nodes that acknowledged. */
  async restartWorkers(waitMs: number): Promise<string[]> {
    const { answered } = await this.publish({
      command: { type: "restart" },
      deadlineMs: waitMs,
      answered: isAckOf,
      targeted: true,
    });
    return [...answered];
  }

  /**
   * Drains or brings online the nodes `selector` picks among those answering a ping; resolves with their ids once
   * each acknowledged. Rejects with NO_MATCHING_NODE (listing the live nodes) when it picks none, NOT_ACKNOWLEDGED
   * when one did not acknowledge within `waitMs`.
   */
  async setNodeState(type: "drain" | "online", selector: NodeSelector, waitMs: number): Promise<string[]> {
    const nodes = await this.ping(waitMs);
    const chosen = nodes.filter((node) => selects(selector, node));
    if (chosen.length === 0) throw noMatchingNode(type, describeSelector(selector), describeNodes(nodes));
    const only = new Set(chosen.map((node) => node.node));
    const { answered, missing } = await this.publish({
      command: { type },
      deadlineMs: waitMs,
      answered: isAckOf,
      targeted: true,
      only,
    });
    if (missing.length > 0) throw notAcknowledged(type, missing, waitMs);
    return [...answered];
  }

  /**
   * Waits up to `waitMs` for a live node registered for the function of `label` (glimpse_map without one);
   * rejects with NO_NODE naming the label and the labels the live nodes carry.
   */
  async waitForNodes(label: string | undefined, waitMs: number, signal?: AbortSignal): Promise<void> {
    const func = labelFunction(label);
    const deadline = Date.now() + waitMs;
    for (let round = 0; ; round++) {
      const live = await this.live.functions();
      if ([...live.values()].some((functions) => functions.has(func))) return;
      const left = deadline - Date.now();
      if (left <= 0) {
        const all = [...live.values()].flatMap((functions) => [...functions]);
        const carried = [...new Set(all.map(functionLabel).filter((l): l is string => !!l))].sort();
        throw noNodeForLabel(label, waitMs, carried, all.includes(labelFunction(undefined)));
      }
      // Nodes are listed by the job servers only: ask again, 50 ms apart at first, at most 800 ms apart.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, Math.min(left, 50 * 2 ** Math.min(round, 4)));
        function done() {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        }
        function onAbort() {
          clearTimeout(timer);
          reject(signal!.reason);
        }
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  /** The nodes' log records as they arrive, until the signal aborts. */
  async *logRecords(
    signal: AbortSignal,
  ): AsyncGenerator<LogEnvelope & { level: string; message: string } & Record<string, unknown>> {
    const queue: LogEnvelope[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (envelope) => {
      if (envelope.message.type !== "record") return;
      queue.push(envelope);
      wake?.();
    };
    this.listeners.add(listener);
    const onAbort = () => wake?.();
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          const record = next.message as { level: string; message: string };
          yield { ...next, level: record.level, message: record.message } as never;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const progress = this.progressPublisher?.then((publisher) => publisher.close());
    await Promise.allSettled([this.publisher.close(), this.subscriber.close(), this.live.close(), progress]);
  }
}
