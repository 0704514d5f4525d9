/**
 * A worker thread's copy of the shared memory: the read-only view functions
 * get (memory.ts makes it public as "glimpse-cluster/memory"), and the
 * replacement the chunk runner makes when the node posts a newer state.
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

/** Called by the chunk runner when the node posts a new memory state; an older version is ignored. */
export function replaceMemory(next: Record<string, unknown>, nextVersion: number): void {
  if (nextVersion < version) return;
  entries = Object.freeze({ ...next });
  version = nextVersion;
}
