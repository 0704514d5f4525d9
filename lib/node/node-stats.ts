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
  busy = 0;
  /** Chunks taken but handed back unrun. */
  handedBack = 0;

  constructor(
    readonly node: string,
    readonly threads: number,
  ) {}

  chunkStarted(): void {
    this.busy++;
  }

  chunkFinished(items: number, elapsedMs: number): void {
    this.busy--;
    this.numRequests++;
    this.itemsDone += items;
    this.elapsedMs += elapsedMs;
  }

  /** A chunk that started (chunkStarted) but went back unrun: counted by whoever handed it back. */
  chunkReturned(): void {
    this.busy--;
  }

  snapshot(memoryVersion: number): Omit<NodeStatsSnapshot, "labels" | "exclusive" | "state"> {
    return {
      node: this.node,
      host: this.host,
      pid: this.pid,
      numRequests: this.numRequests,
      elapsedTime: this.elapsedMs / 1000,
      startTime: this.startTime,
      threads: this.threads,
      busy: this.busy,
      itemsDone: this.itemsDone,
      memoryVersion,
      handedBack: this.handedBack,
    };
  }
}
