/**
 * The pool's shared memory: the entries it gave the worker nodes, under a
 * version that grows with every change. A version is at least the time in
 * ms, so of two pools of one cluster the later change wins. Every change is
 * published whole, so a node that asks for a version (need-memory) gets all
 * of it in one set-memory.
 */
import type { Command } from "../channels/messages.js";

export class PoolMemory {
  private state: { readonly version: number; readonly entries: Record<string, unknown> } = { version: 0, entries: {} };

  /** The version every chunk of a map started now needs (0: this pool never set memory). */
  get version(): number {
    return this.state.version;
  }

  /** Merges `entries` in; returns the command that gives the nodes the new version. */
  set(entries: Record<string, unknown>): Command {
    this.state = { version: this.nextVersion(), entries: { ...this.state.entries, ...entries } };
    return { type: "set-memory", version: this.state.version, entries: this.state.entries };
  }

  /** Empties the memory; returns the command that tells the nodes. */
  clear(): Command {
    this.state = { version: this.nextVersion(), entries: {} };
    return { type: "clear-memory", version: this.state.version };
  }

  /** The command answering a node that needs `version`, when this pool holds it. */
  answer(version: number): Command | undefined {
    if (this.state.version === 0 || this.state.version < version) return undefined;
    return { type: "set-memory", version: this.state.version, entries: this.state.entries };
  }

  private nextVersion(): number {
    return Math.max(this.state.version + 1, Date.now());
  }
}
