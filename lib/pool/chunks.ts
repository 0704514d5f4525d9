/** Cutting a (possibly endless, possibly async) stream of items into numbered chunks, lazily, and joining results back. */

export interface Chunk<T> {
  /** 0-based chunk number within its map. */
  readonly index: number;
  /** Index of `items[0]` within the whole input. */
  readonly start: number;
  /** An array, or for a typed array source a typed array of the same kind (its numbers travel as they lie). */
  readonly items: ArrayLike<T>;
}

export type ItemSource<T> = Iterable<T> | AsyncIterable<T>;

export function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return value != null && typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === "function";
}

export function isIterable<T>(value: unknown): value is Iterable<T> {
  return value != null && typeof (value as Iterable<T>)[Symbol.iterator] === "function";
}

/** Arrays and typed arrays: items that can be read by index without consuming the source. */
export function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

/** Number of items when it can be known without consuming the source (arrays, typed arrays, sets, maps). */
export function knownLength(source: unknown): number | undefined {
  if (Array.isArray(source) || ArrayBuffer.isView(source)) return (source as ArrayLike<unknown>).length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}

/**
 * Yields the source's items in chunks of `chunksize`, pulling lazily. Arrays
 * and typed arrays are sliced (a typed array's chunks stay typed arrays, so
 * their numbers are copied as bytes) and sync iterables read without an
 * await per item (a million items are a hundred awaits, not a million);
 * async iterables are awaited.
 */
export async function* chunksOf<T>(source: ItemSource<T>, chunksize: number): AsyncGenerator<Chunk<T>> {
  let index = 0;
  if (isArrayLike(source)) {
    const sliceable = source as unknown as { length: number; slice(start: number, end: number): ArrayLike<T> };
    for (let start = 0; start < sliceable.length; start += chunksize)
      yield { index: index++, start, items: sliceable.slice(start, start + chunksize) };
    return;
  }
  let items: T[] = [];
  let start = 0;
  const full = (): Chunk<T> => {
    const chunk = { index: index++, start, items };
    start += items.length;
    items = [];
    return chunk;
  };
  if (isAsyncIterable<T>(source)) {
    for await (const item of source) if (items.push(item) === chunksize) yield full();
  } else {
    for (const item of source) if (items.push(item) === chunksize) yield full();
  }
  if (items.length > 0) yield full();
}

/** The largest chunk `auto` makes, in estimated bytes on the wire. */
export const AUTO_CHUNK_BYTES = 1 << 20;

/**
 * Chunk size when the user asks for `auto`: about four chunks per worker
 * thread (as multiprocessing does), so stragglers even out, but no chunk
 * over AUTO_CHUNK_BYTES (estimated from `bytesPerItem`), so one chunk stays
 * a modest Gearman job and a cheap retry. Each chunk costs about a
 * millisecond of CPU beyond its items on a 2-core machine, so small chunks
 * of cheap items spend more on chunks than on items (docs/benchmarks.md).
 */
export function autoChunksize(itemCount: number | undefined, threads: number, bytesPerItem = 64): number {
  if (itemCount === undefined) return 64;
  const perThread = Math.ceil(itemCount / (Math.max(1, threads) * 4));
  const byBytes = Math.floor(AUTO_CHUNK_BYTES / Math.max(1, bytesPerItem));
  return Math.max(1, Math.min(perThread, byBytes));
}

/** Chunks joined per call to concat: far below the engine's limit on arguments. */
const JOIN_BATCH = 1024;

/**
 * The chunks' results as one array, in order. `concat` copies whole element
 * stores (five times faster than pushing a million results one by one here)
 * and keeps the array packed, so it serializes as fast as any other array.
 */
export function joinChunks<R>(parts: readonly R[][]): R[] {
  if (parts.length === 1) return parts[0];
  let out: R[] = [];
  for (let i = 0; i < parts.length; i += JOIN_BATCH) out = out.concat(...parts.slice(i, i + JOIN_BATCH));
  return out;
}
