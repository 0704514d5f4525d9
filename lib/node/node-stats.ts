/** A worker node's counters, reported when pinged. */
import os from "node:os";
import type { NodeStatsSnapshot } from "../channels/messages.js";

export type { NodeStatsSnapshot };

export class NodeStats {
  readonly host = os.hostname();
  readonly pid = process.pid;
  readonly startTime = Date.now();
  numRequests = 0;
  elapsedMs = 0;
  itemsDone = 0;
  /** Chunks taken but handed back unrun. */
  handedBack = 0;

  constructor(
    readonly node: string,
    readonly threads: number,
  ) {}

  chunkFinished(items: number, elapsedMs: number): void {
    this.numRequests++;
    this.itemsDone += items;
    this.elapsedMs += elapsedMs;
  }

  /** `held`: the chunks on the node's threads now (ChunkThreads.counts()). */
  snapshot(
    memoryVersion: number,
    held: { readonly running: number; readonly waiting: number },
  ): Omit<NodeStatsSnapshot, "labels" | "exclusive" | "state"> {
    return {
      node: this.node,
      host: this.host,
      pid: this.pid,
      numRequests: this.numRequests,
      elapsedTime: this.elapsedMs / 1000,
      startTime: this.startTime,
      threads: this.threads,
      busy: held.running,
      prefetched: held.waiting,
      itemsDone: this.itemsDone,
      memoryVersion,
      handedBack: this.handedBack,
    };
  }
}
