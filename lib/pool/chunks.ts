/** Cutting a (possibly endless, possibly async) stream of items into numbered chunks, lazily. */

export interface Chunk<T> {
  /** 0-based chunk number within its map. */
  readonly index: number;
  /** Index of `items[0]` within the whole input. */
  readonly start: number;
  readonly items: T[];
}

export type ItemSource<T> = Iterable<T> | AsyncIterable<T>;

export function isAsyncIterable<T>(value: unknown): value is AsyncIterable<T> {
  return value != null && typeof (value as AsyncIterable<T>)[Symbol.asyncIterator] === "function";
}

export function isIterable<T>(value: unknown): value is Iterable<T> {
  return value != null && typeof (value as Iterable<T>)[Symbol.iterator] === "function";
}

/** Number of items when it can be known without consuming the source (arrays, typed arrays, sets, maps). */
export function knownLength(source: unknown): number | undefined {
  if (Array.isArray(source) || ArrayBuffer.isView(source)) return (source as ArrayLike<unknown>).length;
  if (source instanceof Set || source instanceof Map) return source.size;
  return undefined;
}

export async function* chunksOf<T>(source: ItemSource<T>, chunksize: number): AsyncGenerator<Chunk<T>> {
  let items: T[] = [];
  let index = 0;
  let start = 0;
  for await (const item of source as AsyncIterable<T>) {
    items.push(item);
    if (items.length === chunksize) {
      yield { index: index++, start, items };
      start += items.length;
      items = [];
    }
  }
  if (items.length > 0) yield { index, start, items };
}

/**
 * Chunk size when the user asks for `auto`: about four chunks per worker
 * thread (as multiprocessing does), so stragglers even out; bounded so that
 * one chunk stays a reasonable Gearman job.
 */
export function autoChunksize(itemCount: number | undefined, threads: number): number {
  if (itemCount === undefined) return 64;
  const chunks = Math.max(1, threads) * 4;
  return Math.min(10_000, Math.max(1, Math.ceil(itemCount / chunks)));
}
