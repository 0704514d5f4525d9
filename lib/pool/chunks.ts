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
export async function* chunksOf<T>(
  source: ItemSource<T>,
  chunksize: number,
  signal?: AbortSignal,
): AsyncGenerator<Chunk<T>> {
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
    for await (const item of source) {
      // Stopped while an item was awaited: read no more to fill the chunk (leaving closes the source).
      if (signal?.aborted) return;
      if (items.push(item) === chunksize) yield full();
    }
  } else {
    for (const item of source) if (items.push(item) === chunksize) yield full();
  }
  if (items.length > 0) yield full();
}

/** The largest chunk `auto` makes, in estimated bytes on the wire. */
export const AUTO_CHUNK_BYTES = 1 << 20;

/**
 * What one chunk costs beyond its items, as the bytes of items that cost as
 * much: its Gearman job, its hops between processes and threads, its
 * bookkeeping on both sides. Measured on the 2-core benchmark machine
 * (docs/benchmarks.md, map-throughput): a million numbers ran fastest in
 * about 16 chunks (1.25-1.43 × the speed of 8 chunks, 23 or more spending
 * 1-2 ms of CPU per extra chunk at load 14-20), which this value gives.
 */
export const CHUNK_COST_BYTES = 32 * 1024;

/**
 * Chunk size when the user asks for `auto`, from what the pipeline needs.
 * A map is a pipeline (encode, job server, node, thread, and back): its
 * first chunk must be encoded and sent before any thread starts, and its
 * last chunk's results decoded after every thread stopped, so a big chunk
 * leaves stages idle for as long as one chunk takes to cross them, while
 * each chunk adds a fixed cost. A map of n items of b bytes in chunks of k
 * costs about k·b (fill and drain) + (n/k)·CHUNK_COST_BYTES, least at
 * k = √(n · CHUNK_COST_BYTES / b): so the chunks in flight grow with the
 * map, as the square root of its bytes (a million numbers: 16 chunks of
 * 64,000; four million: 32 of 128,000). Then two bounds: at least four
 * chunks per worker thread, so that the threads end together when items
 * cost more than their bytes (a CPU-bound function), and no chunk over
 * AUTO_CHUNK_BYTES, so one chunk stays a modest Gearman job and a cheap
 * retry. `bytesPerItem` is estimateItemBytes' (lib/wire/chunk-codec.ts).
 */
export function autoChunksize(itemCount: number | undefined, threads: number, bytesPerItem = 64): number {
  if (itemCount === undefined) return 64;
  const bytes = Math.max(1, bytesPerItem);
  const pipeline = Math.ceil(Math.sqrt((itemCount * CHUNK_COST_BYTES) / bytes));
  const balance = Math.ceil(itemCount / (Math.max(1, threads) * 4));
  const byBytes = Math.floor(AUTO_CHUNK_BYTES / bytes);
  return Math.max(1, Math.min(pipeline, balance, byBytes));
}

/**
 * A chunk's results: an array, or the typed array number results arrived as
 * (lib/wire/number-body.ts), kept off the JavaScript heap while the window holds
 * them; map() and starmap() unpack each (asArrays) as they take it, and join the
 * pieces at the end (joinChunks).
 */
export type ChunkResults<R> = readonly R[] | (ArrayLike<R> & Iterable<R>);

/** Chunks joined per call to concat: far below the engine's limit on arguments. */
const JOIN_BATCH = 1024;
/**
 * Typed results become arrays of at most this many elements before they are
 * joined: an array of 8192 values (64 KB) is made in the young generation,
 * where pushing into it is several times faster than into one past its
 * large-object size (measured: 125,000 results pushed per chunk cost 4 ×
 * per item what 8,192 do).
 */
const UNPACK_PIECE = 8192;

/** A chunk's results as arrays to join (joinChunks): an array as it is, typed results in plain arrays of at most UNPACK_PIECE. */
export function asArrays<R>(part: ChunkResults<R>): readonly R[][] {
  if (Array.isArray(part)) return [part as R[]];
  const arrays: R[][] = [];
  for (let from = 0; from < part.length; from += UNPACK_PIECE) {
    const piece: R[] = [];
    const end = Math.min(part.length, from + UNPACK_PIECE);
    for (let i = from; i < end; i++) piece.push(part[i]);
    arrays.push(piece);
  }
  return arrays;
}

/**
 * The chunks' results as one array, in order. `concat` copies whole element
 * stores (five times faster than pushing a million results one by one here)
 * and keeps the array packed, so it serializes as fast as any other array.
 */
export function joinChunks<R>(parts: readonly ChunkResults<R>[]): R[] {
  const arrays = parts.flatMap((part) => asArrays(part));
  if (arrays.length === 1) return arrays[0];
  let out: R[] = [];
  for (let i = 0; i < arrays.length; i += JOIN_BATCH) out = out.concat(...arrays.slice(i, i + JOIN_BATCH));
  return out;
}
