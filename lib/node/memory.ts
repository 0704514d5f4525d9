/**
 * The shared memory as functions see it on a worker thread: read-only, set by
 * the pool with setMemory / clearMemory. Module functions import it
 * (`import { memory } from "glimpse-cluster/memory"`); source functions get it
 * as the free name `memory`.
 */

export interface SharedMemoryView {
  get(key: string): unknown;
  has(key: string): boolean;
  keys(): string[];
  /** The version the thread holds (0: none yet). */
  readonly version: number;
}

let entries: Readonly<Record<string, unknown>> = Object.freeze({});
let version = 0;

export const memory: SharedMemoryView = Object.freeze({
  get: (key: string) => (Object.hasOwn(entries, key) ? entries[key] : undefined),
  has: (key: string) => Object.hasOwn(entries, key),
  keys: () => Object.keys(entries),
  get version() {
    return version;
  },
});

/** @internal Called by the chunk runner when the node publishes a new memory state. */
export function replaceMemory(next: Record<string, unknown>, nextVersion: number): void {
  if (nextVersion < version) return;
  entries = Object.freeze({ ...next });
  version = nextVersion;
}
