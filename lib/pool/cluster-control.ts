/**
 * The client's side of the command and log channels: everything a pool or the
 * CLI asks of the worker nodes beside Gearman.
 *
 *   publishUntilAcked(command) ──CommandChannel (again every 200 ms)──► nodes ──ack (log channel)──┐
 *        ▲ live nodes = workers registered for glimpse_map at the job servers (admin `workers`)   │
 *        └──────────────── resolves when every live node acknowledged, or at the deadline ◄─────────┘
 *
 *   need-memory from a node ──► set-memory (whole state) to that node alone
 *
 * ZeroMQ PUB/SUB drops what is published before a subscriber is connected, so
 * nothing here relies on one publication arriving: commands that must arrive
 * are repeated until acknowledged, never followed by a fixed sleep.
 */
import { randomBytes } from "node:crypto";
import { AdminClient } from "../gearman/admin.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import {
  CHANNEL_VERSION, TOPIC_ALL, TOPIC_LOG, TOPIC_REPLY, nodeTopic, parseLog,
  QueuedPublisher, LoopingSubscriber,
  type Command, type LogEnvelope, type NodeStatsSnapshot,
} from "../channels/index.js";
import { MessageGuard, type ClusterKey, type CurveSettings, type SignatureError } from "../security/index.js";
import { MAP_FUNCTION } from "./chunk-job.js";
import { PoolError } from "./errors.js";

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
  /** A log message was refused (unsigned, forged, replayed); default: a process warning, once per reason. */
  readonly onRefused?: (error: SignatureError, topic: string) => void;
}

type Listener = (envelope: LogEnvelope) => void;

export class ClusterControl {
  private readonly publisher: QueuedPublisher;
  private readonly subscriber: LoopingSubscriber;
  private readonly warned = new Set<string>();
  private readonly admins: AdminClient[];
  private readonly listeners = new Set<Listener>();
  private readonly nodes = new Map<string, NodeStatsSnapshot>();
  private memory: { version: number; entries: Record<string, unknown> } = { version: 0, entries: {} };
  private readonly id = `client-${randomBytes(4).toString("hex")}`;
  private counter = 0;
  private closed = false;

  private constructor(private readonly options: ControlOptions) {
    this.publisher = new QueuedPublisher(options.key && { key: options.key, kind: "command" });
    this.subscriber = new LoopingSubscriber({
      guard: options.key && new MessageGuard(options.key, { maxAgeMs: options.signatureMaxAgeMs }),
      kind: "log",
      onRefused: (error, topic) => this.onRefused(error, topic),
    });
    this.admins = options.jobServers.map((server) => new AdminClient(server, { timeoutMs: 2000, tls: options.tls }));
  }

  static async open(options: ControlOptions): Promise<ClusterControl> {
    const control = new ClusterControl(options);
    try {
      await control.publisher.open({ url: options.commandUrl, bind: options.commandBind, curve: options.curve });
      await control.subscriber.open({ url: options.logUrl, bind: options.logBind, curve: options.curve }, [TOPIC_LOG, TOPIC_REPLY], (_topic, body) => {
        const envelope = parseLog(body);
        if (envelope) control.onLog(envelope);
      });
    } catch (error) {
      await control.close();
      throw error;
    }
    return control;
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
    process.emitWarning(`${error.message} (further ${error.reason} refusals are not reported)`, { code: "GLIMPSE_REFUSED" });
  }

  /** Log messages refused by signature checking so far. */
  get refusedMessages(): number {
    return this.subscriber.refused;
  }

  private onLog(envelope: LogEnvelope): void {
    const message = envelope.message;
    if (message.type === "pong") this.nodes.set(envelope.node, message.stats);
    if (message.type === "need-memory" && this.memory.version >= message.version && this.memory.version > 0) {
      this.send({ type: "set-memory", version: this.memory.version, entries: this.memory.entries }, nodeTopic(envelope.node));
    }
    for (const listener of this.listeners) listener(envelope);
  }

  private send(command: Command, topic = TOPIC_ALL, id = this.nextId()): string {
    void this.publisher.send(topic, JSON.stringify({ v: CHANNEL_VERSION, id, from: this.id, time: Date.now(), command }));
    return id;
  }

  private nextId(): string {
    return `${this.id}-${++this.counter}`;
  }

  /** Worker nodes registered for glimpse_map at the job servers right now (by their client ids). */
  async liveNodes(): Promise<Set<string>> {
    const found = new Set<string>();
    await Promise.all(
      this.admins.map(async (admin) => {
        try {
          for (const worker of await admin.workers()) {
            if (worker.functions.includes(MAP_FUNCTION) && worker.clientId !== "-") found.add(worker.clientId);
          }
        } catch {
          // A job server that is down lists no one; the others still count.
        }
      }),
    );
    return found;
  }

  /**
   * Publishes a command again and again until every live node acknowledged it
   * (or replied, for ping), or `deadlineMs` passed. Resolves with the nodes
   * that answered and those that did not.
   */
  private async publishUntilAnswered(
    command: Command,
    deadlineMs: number,
    answered: (envelope: LogEnvelope, id: string) => boolean,
    /** Send to each live node that has not answered (by its own topic), not to all: a node started meanwhile must not get it. */
    targeted = false,
  ): Promise<{ answered: Set<string>; missing: string[] }> {
    const id = this.nextId();
    const got = new Set<string>();
    const listener: Listener = (envelope) => {
      if (answered(envelope, id)) got.add(envelope.node);
    };
    this.listeners.add(listener);
    const deadline = Date.now() + deadlineMs;
    try {
      let live = await this.liveNodes();
      let lastRefresh = Date.now();
      for (let round = 0; ; round++) {
        if (!targeted) this.send(command, TOPIC_ALL, id);
        else for (const node of live) if (!got.has(node)) this.send(command, nodeTopic(node), id);
        const wait = Math.min(1000, 100 * 2 ** Math.min(round, 3));
        const allIn = await this.waitFor(() => [...live].every((n) => got.has(n)) && live.size > 0, Math.min(wait, Math.max(0, deadline - Date.now())));
        if (allIn) {
          // A node may have registered since the list was read: done only if the list is still covered.
          live = await this.liveNodes();
          lastRefresh = Date.now();
          if ([...live].every((n) => got.has(n))) break;
        }
        if (Date.now() >= deadline) break;
        if (Date.now() - lastRefresh > 1000) {
          live = await this.liveNodes();
          lastRefresh = Date.now();
          if (live.size === 0) break;
        }
      }
      return { answered: got, missing: [...live].filter((n) => !got.has(n)) };
    } finally {
      this.listeners.delete(listener);
    }
  }

  /** Resolves true as soon as `done()` holds after a log message, false after `ms`. */
  private waitFor(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const listener: Listener = () => {
        if (!done()) return;
        finish(true);
      };
      const timer = setTimeout(() => finish(done()), ms);
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(value);
      };
      this.listeners.add(listener);
    });
  }

  private async publishMemory(command: Command): Promise<void> {
    const { missing } = await this.publishUntilAnswered(
      command,
      this.options.memoryAckMs ?? 30_000,
      (e, id) => e.message.type === "ack" && e.message.commandId === id,
    );
    if (missing.length > 0) {
      throw new PoolError("MEMORY", `${command.type}: no acknowledgement from worker node${missing.length > 1 ? "s" : ""} ${missing.join(", ")} within ${this.options.memoryAckMs ?? 30_000} ms`);
    }
  }

  private nextMemoryVersion(): number {
    return Math.max(this.memory.version + 1, Date.now());
  }

  /** Merges entries into the shared memory; resolves once every live node holds the new version. */
  setMemory(entries: Record<string, unknown>): Promise<void> {
    this.memory = { version: this.nextMemoryVersion(), entries: { ...this.memory.entries, ...entries } };
    return this.publishMemory({ type: "set-memory", version: this.memory.version, entries: this.memory.entries });
  }

  clearMemory(): Promise<void> {
    this.memory = { version: this.nextMemoryVersion(), entries: {} };
    return this.publishMemory({ type: "clear-memory", version: this.memory.version });
  }

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
    await this.publishUntilAnswered({ type: "ping" }, waitMs, (e, id) => {
      if (e.message.type !== "pong" || e.message.commandId !== id) return false;
      replies.set(e.node, e.message.stats);
      return true;
    });
    return [...replies.values()];
  }

  /** Tells every live node to quit; resolves with the nodes that acknowledged. */
  async quitWorkers(waitMs: number): Promise<string[]> {
    const { answered } = await this.publishUntilAnswered({ type: "quit" }, waitMs, (e, id) => e.message.type === "ack" && e.message.commandId === id, true);
    return [...answered];
  }

  /** Tells every live node to restart (their supervisors start them again). */
  async restartWorkers(waitMs: number): Promise<string[]> {
    const { answered } = await this.publishUntilAnswered({ type: "restart" }, waitMs, (e, id) => e.message.type === "ack" && e.message.commandId === id, true);
    return [...answered];
  }

  /** The nodes' log records as they arrive, until the signal aborts. */
  async *logRecords(signal: AbortSignal): AsyncGenerator<LogEnvelope & { level: string; message: string } & Record<string, unknown>> {
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
    await Promise.allSettled([this.publisher.close(), this.subscriber.close(), ...this.admins.map((a) => a.close())]);
  }
}
