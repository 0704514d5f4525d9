/**
 * The pool's shared memory: the entries it gave the worker nodes, under a
 * version that grows with every change. A version is at least the time in
 * ms, so of two pools of one cluster the later change wins. Every change is
 * published whole, so a node that asks for a version (need-memory) gets all
 * of it in one set-memory.
 *
 *   set(entries) / clear() ──set-memory / clear-memory, until every live node acknowledged──► worker nodes
 *   need-memory VERSION from a node (log channel) ──the whole state, when this client holds it──► that node alone
 *
 * Entries travel as map items do (lib/wire/memory-codec.ts). A change is
 * checked and encoded, and the channels reached, before the state changes:
 * a refused entry or an unreachable channel leaves it as it was. Once
 * published, the new state stays even if a node does not acknowledge in
 * time (it may hold it already; the others get it before their next chunk).
 */
import { nodeTopic, type Command } from "../channels/messages.js";
import { memoryNotAcknowledged, memoryNotRead } from "./errors.js";
import { isAckOf, type CommandClient } from "./command-client.js";
import { checkMemoryEntries, encodeMemory } from "../wire/memory-codec.js";
import type { LogChannel } from "./log-channel.js";

/** How long set and clear wait for every live node's acknowledgement by default, in ms. */
export const MEMORY_ACK_MS = 30_000;

interface MemoryState {
  readonly version: number;
  readonly entries: Readonly<Record<string, unknown>>;
  /** The entries as set-memory carries them (memory-codec.ts). */
  readonly encoded: string;
}

export class SharedMemory {
  private state: MemoryState = { version: 0, entries: {}, encoded: encodeMemory({}) };
  private readonly stopWatching: () => void;

  constructor(
    private readonly commands: CommandClient,
    private readonly log: LogChannel,
    /** How long set and clear wait for every live node's acknowledgement, in ms. */
    private readonly ackMs = MEMORY_ACK_MS,
  ) {
    this.stopWatching = log.watch((envelope) => {
      if (envelope.message.type !== "need-memory") return;
      const answer = this.answer(envelope.message.version);
      if (answer) commands.send(answer, nodeTopic(envelope.node));
    });
  }

  /** The version every chunk of a map started now needs (0: this client never set memory). */
  get version(): number {
    return this.state.version;
  }

  /**
   * Merges entries in; resolves once every live node holds the new version (PoolError MEMORY if one did not
   * in time, or could not read it). An entry that cannot travel throws MemoryValueError naming its key.
   */
  async set(entries: Readonly<Record<string, unknown>>): Promise<void> {
    checkMemoryEntries(entries);
    encodeMemory(entries); // names the entry V8 cannot serialize, before anything changes
    await this.commands.reachChannels("set-memory");
    // Merged after the wait, so that of two sets in flight neither loses the other's entries.
    const merged = { ...this.state.entries, ...entries };
    const encoded = encodeMemory(merged);
    this.state = { version: this.nextVersion(), entries: merged, encoded };
    await this.publish({ type: "set-memory", version: this.state.version, memory: encoded });
  }

  /** Empties the memory; resolves once every live node acknowledged. */
  async clear(): Promise<void> {
    await this.commands.reachChannels("clear-memory");
    this.state = { version: this.nextVersion(), entries: {}, encoded: encodeMemory({}) };
    await this.publish({ type: "clear-memory", version: this.state.version });
  }

  /** The command answering a node that needs `version`, when this client holds it. */
  private answer(version: number): Command | undefined {
    if (this.state.version === 0 || this.state.version < version) return undefined;
    return { type: "set-memory", version: this.state.version, memory: this.state.encoded };
  }

  private async publish(command: Command): Promise<void> {
    const unread = new Map<string, string>();
    const { missing } = await this.commands.publish({
      command,
      deadlineMs: this.ackMs,
      answered: (envelope, id) => {
        if (!isAckOf(envelope, id)) return false;
        const error = envelope.message.type === "ack" ? envelope.message.error : undefined;
        if (error !== undefined) unread.set(envelope.node, error);
        return true;
      },
    });
    if (unread.size > 0)
      throw memoryNotRead(
        command.type,
        [...unread].map(([node, why]) => `${node}: ${why}`),
      );
    if (missing.length > 0)
      throw memoryNotAcknowledged(
        command.type,
        missing.map((node) => this.log.describeNode(node)),
        this.ackMs,
      );
  }

  private nextVersion(): number {
    return Math.max(this.state.version + 1, Date.now());
  }

  close(): void {
    this.stopWatching();
  }
}
