/** What a worker node reports when pinged (the original's HOST, PID, NUM_REQUESTS, ELAPSED_TIME, START_TIME, and more). */
import os from "node:os";

export interface NodeStatsSnapshot {
  /** The node's id (its Gearman client id). */
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** Chunks run since start. */
  readonly numRequests: number;
  /** Seconds spent running chunks, summed. */
  readonly elapsedTime: number;
  /** When the node started, in ms since the epoch. */
  readonly startTime: number;
  readonly threads: number;
  /** Threads running a chunk now. */
  readonly busy: number;
  /** Items mapped since start. */
  readonly itemsDone: number;
  /** Version of the shared memory the node holds. */
  readonly memoryVersion: number;
}

export class NodeStats {
  readonly host = os.hostname();
  readonly pid = process.pid;
  readonly startTime = Date.now();
  numRequests = 0;
  elapsedMs = 0;
  itemsDone = 0;
  busy = 0;

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

  snapshot(memoryVersion: number): NodeStatsSnapshot {
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
    };
  }
}
