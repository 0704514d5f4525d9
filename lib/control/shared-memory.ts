/**
 * The pool's shared memory: the entries it gave the worker nodes, under a
 * version that grows with every change. A version is at least the time in
 * ms, so of two pools of one cluster the later change wins. Every change is
 * published whole, so a node that asks for a version (need-memory) gets all
 * of it in one set-memory.
 *
 *   set(entries) / clear() ──set-memory / clear-memory, until every live node acknowledged──► worker nodes
 *   need-memory VERSION from a node (log channel) ──the whole state, when this client holds it──► that node alone
 */
import { nodeTopic, type Command } from "../channels/messages.js";
import { memoryNotAcknowledged } from "./errors.js";
import { isAckOf, type CommandClient } from "./command-client.js";
import type { LogChannel } from "./log-channel.js";

/** How long set and clear wait for every live node's acknowledgement by default, in ms. */
export const MEMORY_ACK_MS = 30_000;

export class SharedMemory {
  private state: { readonly version: number; readonly entries: Record<string, unknown> } = { version: 0, entries: {} };
  private readonly stopWatching: () => void;

  constructor(
    private readonly commands: CommandClient,
    log: LogChannel,
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

  /** Merges entries in; resolves once every live node holds the new version (PoolError MEMORY if one did not in time). */
  set(entries: Record<string, unknown>): Promise<void> {
    this.state = { version: this.nextVersion(), entries: { ...this.state.entries, ...entries } };
    return this.publish({ type: "set-memory", version: this.state.version, entries: this.state.entries });
  }

  /** Empties the memory; resolves once every live node acknowledged. */
  clear(): Promise<void> {
    this.state = { version: this.nextVersion(), entries: {} };
    return this.publish({ type: "clear-memory", version: this.state.version });
  }

  /** The command answering a node that needs `version`, when this client holds it. */
  private answer(version: number): Command | undefined {
    if (this.state.version === 0 || this.state.version < version) return undefined;
    return { type: "set-memory", version: this.state.version, entries: this.state.entries };
  }

  private async publish(command: Command): Promise<void> {
    const { missing } = await this.commands.publish({ command, deadlineMs: this.ackMs, answered: isAckOf });
    if (missing.length > 0) throw memoryNotAcknowledged(command.type, missing, this.ackMs);
  }

  private nextVersion(): number {
    return Math.max(this.state.version + 1, Date.now());
  }

  close(): void {
    this.stopWatching();
  }
}
