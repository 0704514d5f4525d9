/**
 * How a worker node hands its shared memory to its piscina threads: a
 * BroadcastChannel. The node posts every new state; a thread that needs a
 * version it does not have yet (it started late, or the post is still in
 * flight) asks, and the node posts its state again.
 */
import { BroadcastChannel } from "node:worker_threads";

export const MEMORY_CHANNEL = "glimpse-cluster:memory";

export type MemoryMessage =
  | { readonly type: "state"; readonly version: number; readonly entries: Record<string, unknown> }
  | { readonly type: "need"; readonly version: number };

/** Node side: keeps the current state and answers threads' requests. */
export class MemoryPublisher {
  private readonly channel = new BroadcastChannel(MEMORY_CHANNEL);
  private state: { version: number; entries: Record<string, unknown> } = { version: 0, entries: {} };

  constructor() {
    this.channel.onmessage = (event) => {
      const message = (event as { data: MemoryMessage }).data;
      if (message?.type === "need") this.post();
    };
    this.channel.unref();
  }

  publish(version: number, entries: Record<string, unknown>): void {
    this.state = { version, entries };
    this.post();
  }

  private post(): void {
    this.channel.postMessage({ type: "state", ...this.state } satisfies MemoryMessage);
  }

  close(): void {
    this.channel.close();
  }
}
