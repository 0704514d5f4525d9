/**
 * A worker node's copy of the shared memory. Each set-memory carries the
 * pool's whole state with a version; a newer version replaces the copy and is
 * passed on to the node's threads. A chunk that needs a version the node does
 * not have yet makes the node ask the pools for it (need-memory), so a node
 * that started late, or missed a publication, catches up before it runs it.
 */
import { MemoryPublisher } from "./memory-broadcast.js";
import type { NodeChannels } from "./node-channels.js";
import { MemoryWait } from "./memory-wait.js";

/** How often a waiting chunk's need-memory request is published again: the log channel may lose it. */
const ASK_AGAIN_MS = 250;

export class NodeMemory {
  version = 0;
  private entries: Record<string, unknown> = {};
  private publisher: MemoryPublisher | undefined;
  /** Chunks waiting for a version the node does not hold yet. */
  private readonly wait: MemoryWait;

  constructor(
    channels: NodeChannels,
    private readonly waitMs: number,
    /** For messages: whose memory this is. */
    nodeId: string,
  ) {
    this.wait = new MemoryWait(`worker node ${nodeId}`, () => this.version, {
      ask: (version) => channels.requestMemory(version),
      askEveryMs: ASK_AGAIN_MS,
    });
  }

  /** Starts handing memory to the node's threads. */
  attach(): void {
    this.publisher = new MemoryPublisher();
    if (this.version > 0) this.publisher.publish(this.version, this.entries);
  }

  replace(entries: Record<string, unknown>, version: number): void {
    if (version <= this.version) return;
    this.version = version;
    this.entries = entries;
    this.publisher?.publish(version, entries);
    this.wait.arrived();
  }

  clear(version: number): void {
    this.replace({}, version);
  }

  /** Resolves once the node holds at least `version`, asking the pools for it meanwhile; rejects after waitMs, or with the signal's reason. */
  ready(version: number, signal: AbortSignal): Promise<void> {
    return this.wait.ready(version, this.waitMs, signal);
  }

  close(): void {
    this.publisher?.close();
  }
}
