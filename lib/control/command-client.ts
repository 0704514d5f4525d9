/**
 * The client's end of the command channel: commands to the worker nodes,
 * published until every node they are for answered (publishUntilAnswered).
 *
 *   ping / quit / restart / drain / online / one node's command ──publishUntilAnswered──► command channel ──► worker nodes
 *        ▲ done when every live node (NodeDirectory) answered, or at the deadline                                     │
 *        └────────────────────────────── acks, pongs (LogChannel) ◄────────────────────────────────────────────────────┘
 *   cancel a map, or one attempt of a chunk ──► published twice, best effort
 *
 * With a cluster key, every command is signed (at each send: a command
 * published again carries a fresh nonce). A command that waits for answers
 * first checks that both channel ends are reached (bound, or connected to
 * the broker): otherwise it fails at once with CHANNEL_UNREACHABLE naming the
 * endpoints, where it would wait its whole deadline for answers that cannot come.
 */
import {
  CHANNEL_VERSION,
  TOPIC_ALL,
  type Command,
  type LogEnvelope,
  type NodeStatsSnapshot,
} from "../channels/messages.js";
import { QueuedPublisher } from "../channels/publisher.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";
import { publishUntilAnswered, type Answers, type CommandChannel, type Publication } from "./publish-until-answered.js";
import { channelsUnreachable, noMatchingNode, notAcknowledged } from "./errors.js";
import { Condition } from "../condition.js";
import { describeNodes, describeSelector, selects, type NodeSelector } from "./node-selector.js";
import type { NodeDirectory } from "./node-directory.js";
import type { LogChannel } from "./log-channel.js";
import { endOf, type ChannelEnd } from "./reachability.js";
import { ConnectionWatch } from "../channels/connection-watch.js";

export interface CommandClientOptions {
  /** Where commands are published: the broker's command frontend, or (bind) our own address in direct mode. */
  readonly url: string;
  readonly bind: boolean;
  readonly key?: ClusterKey;
  readonly curve?: CurveSettings;
}

/** What one node can be told by its id (the dashboard's row buttons). */
export type NodeAction = "quit" | "restart" | "drain" | "online";

/**
 * How long a command waits for its channel ends to connect (to a broker)
 * before it fails naming them: a connection on a network comes up in
 * milliseconds; one refused is tried again every 100 ms by ZeroMQ.
 */
const CONNECT_WAIT_MS = 2000;

/** How long after a cancel it is published once more (PUB/SUB may drop the first on a fresh connection). */
const CANCEL_AGAIN_MS = 200;

export const isAckOf = (envelope: LogEnvelope, id: string) =>
  envelope.message.type === "ack" && envelope.message.commandId === id;

export class CommandClient {
  private readonly publisher: QueuedPublisher;
  private counter = 0;
  /** What the connection to a broker met (none in direct mode: the end is bound). */
  private readonly connectionWatch: ConnectionWatch | undefined;
  /** Woken when the connection to a broker comes up or drops. */
  private readonly connection = new Condition();
  private closed = false;
  /** Publishing's view of the channel ends. */
  private readonly channel: CommandChannel;

  /** `clientId`: this client's id, the `from` of its commands. */
  constructor(
    private readonly options: CommandClientOptions,
    private readonly clientId: string,
    private readonly log: LogChannel,
    nodes: NodeDirectory,
  ) {
    this.publisher = new QueuedPublisher(options.key && { key: options.key, kind: "command" });
    if (!options.bind) this.connectionWatch = new ConnectionWatch(this.publisher.socket, () => this.connection.wake());
    this.channel = {
      send: (command, topic, id) => this.send(command, topic, id),
      nextId: () => this.nextId(),
      listen: (listener) => log.watch(listener),
      liveNodes: () => nodes.list(),
    };
  }

  /**
   * Before a command that needs answers: both channel ends reached (bound, or
   * connected to the broker), waiting up to CONNECT_WAIT_MS for a connection
   * under way; otherwise PoolError CHANNEL_UNREACHABLE naming the endpoints,
   * rather than a wait for answers that cannot come.
   */
  async reachChannels(command: string): Promise<void> {
    await Promise.all([
      this.connection.until(() => this.end.reached, CONNECT_WAIT_MS),
      this.log.whenReached(CONNECT_WAIT_MS),
    ]);
    const unreached = [this.end, this.log.end].filter((end) => !end.reached);
    if (unreached.length > 0) throw channelsUnreachable(command, unreached);
  }

  open(): Promise<void> {
    const { url, bind, curve } = this.options;
    return this.publisher.open({ url, bind, curve });
  }

  /** The endpoint actually used: the bound address, with its port, in direct mode. */
  get endpoint(): string {
    return this.publisher.endpoint;
  }

  /** The endpoint, and whether it is reached: bound, or connected (to a broker) now. */
  get end(): ChannelEnd {
    const { bind } = this.options;
    return endOf("command", this.endpoint, bind, this.connectionWatch);
  }

  /** Publishes `command` on `topic` (every node by default) once; returns its envelope id. */
  send(command: Command, topic = TOPIC_ALL, id = this.nextId()): string {
    void this.publisher.send(
      topic,
      JSON.stringify({ v: CHANNEL_VERSION, id, from: this.clientId, time: Date.now(), command }),
    );
    return id;
  }

  private nextId(): string {
    return `${this.clientId}-${++this.counter}`;
  }

  /**
   * Publishes until every live node (of `only`, if given) answered, or the deadline passed. Rejects
   * with CHANNEL_UNREACHABLE, naming the command, when a channel end cannot be reached.
   */
  async publish(publication: Publication): Promise<Answers> {
    await this.reachChannels(publication.command.type);
    return publishUntilAnswered(this.channel, publication);
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

  /** Tells one node (by its id) to quit, restart, drain or come online; resolves true once it acknowledged, false after `waitMs`. */
  async commandNode(nodeId: string, type: NodeAction, waitMs: number): Promise<boolean> {
    await this.reachChannels(type);
    const { answered } = await publishUntilAnswered(
      { ...this.channel, liveNodes: async () => new Set([nodeId]) },
      { command: { type }, deadlineMs: waitMs, answered: isAckOf, targeted: true },
    );
    return answered.has(nodeId);
  }

  /** Tells every live node to quit; resolves with the nodes that acknowledged. */
  quitWorkers(waitMs: number): Promise<string[]> {
    return this.tellEvery("quit", waitMs);
  }

  /** Tells every live node to restart (their supervisors start them again); resolves with the nodes that acknowledged. */
  restartWorkers(waitMs: number): Promise<string[]> {
    return this.tellEvery("restart", waitMs);
  }

  private async tellEvery(type: "quit" | "restart", waitMs: number): Promise<string[]> {
    await this.reachChannels(type);
    // The nodes registered now, and only they: a restarted node that registers again within the deadline
    // (a new id) must not be told to restart in its turn.
    const only = await this.channel.liveNodes();
    const { answered } = await this.publish({
      command: { type },
      deadlineMs: waitMs,
      answered: isAckOf,
      targeted: true,
      only,
    });
    return [...answered];
  }

  /**
   * Drains or brings online the nodes `selector` picks among those answering a ping; resolves with their ids once
   * each acknowledged. Rejects with NO_MATCHING_NODE (listing the live nodes) when it picks none, NOT_ACKNOWLEDGED
   * when one did not acknowledge within `waitMs`.
   */
  async setNodeState(type: "drain" | "online", selector: NodeSelector, waitMs: number): Promise<string[]> {
    await this.reachChannels(type);
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

  /** Tells the nodes to stop every running chunk of a map (best effort). */
  cancelMap(mapId: string): void {
    this.cancel(mapId);
  }

  /** Tells the nodes to stop one attempt of a chunk, by its job's unique id (best effort). */
  cancelAttempt(unique: string): void {
    this.cancel(unique);
  }

  /** A cancel names map ids and job unique ids alike: each node stops what runs under the name. Sent twice. */
  private cancel(name: string): void {
    if (this.closed) return;
    const id = this.send({ type: "cancel", mapIds: [name] });
    setTimeout(
      () => !this.closed && this.send({ type: "cancel", mapIds: [name] }, TOPIC_ALL, id),
      CANCEL_AGAIN_MS,
    ).unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.publisher.close();
  }
}
