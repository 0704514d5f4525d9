/**
 * A worker node's copy of the shared memory. Each set-memory carries the
 * pool's whole state with a version; a newer version replaces the copy and is
 * passed on to the node's threads. A chunk that needs a version the node does
 * not have yet makes the node ask the pools for it (need-memory), so a node
 * that started late, or missed a publication, catches up before it runs it.
 */
import { MemoryPublisher } from "./memory-broadcast.js";
import type { NodeChannels } from "./node-channels.js";

export class NodeMemory {
  version = 0;
  private entries: Record<string, unknown> = {};
  private publisher: MemoryPublisher | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly channels: NodeChannels,
    private readonly waitMs: number,
  ) {}

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
    for (const wake of this.waiters) wake();
  }

  clear(version: number): void {
    this.replace({}, version);
  }

  /** Resolves once the node holds at least `version`; asks the pools for it meanwhile. */
  async ready(version: number, signal: AbortSignal): Promise<void> {
    if (this.version >= version) return;
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const ask = () => this.channels.requestMemory(version);
      const timer = setInterval(() => {
        if (Date.now() - started > this.waitMs) {
          done();
          reject(new Error(`shared memory version ${version} did not arrive within ${this.waitMs} ms (this node has version ${this.version})`));
        } else ask();
      }, 250);
      const check = () => {
        if (this.version < version) return;
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(signal.reason);
      };
      const done = () => {
        clearInterval(timer);
        this.waiters.delete(check);
        signal.removeEventListener("abort", onAbort);
      };
      this.waiters.add(check);
      signal.addEventListener("abort", onAbort, { once: true });
      ask();
    });
  }

  close(): void {
    this.publisher?.close();
  }
}
