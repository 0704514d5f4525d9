/**
 * Map over several iterables at once, as Python's map(fn, xs, ys): the i-th items of every source
 * make the i-th argument list, and the shortest source ends it (the others are closed, as a
 * for-of loop left early closes its iterator). Arrays zip into an array (its length known up
 * front, for chunksize "auto"); sync iterables lazily without an await per item; any async
 * source makes it async.
 */
import { isArrayLike, isAsyncIterable, isIterable, type ItemSource } from "./chunks.js";
import { ArgumentError } from "../argument-error.js";

/** `args`: the sources, then (optionally) an options object. Throws ArgumentError for anything else. */
export function splitSources(
  what: string,
  args: readonly unknown[],
): { readonly sources: ItemSource<unknown>[]; readonly options: unknown } {
  const last = args.at(-1);
  const hasOptions = args.length > 1 && (last === undefined || !(isIterable(last) || isAsyncIterable(last)));
  const sources = (hasOptions ? args.slice(0, -1) : args) as unknown[];
  sources.forEach((source, i) => {
    if (!isIterable(source) && !isAsyncIterable(source))
      throw new ArgumentError(
        `${what} items${sources.length > 1 ? ` (iterable ${i + 1})` : ""}`,
        `expected an iterable or async iterable, got ${source === null ? "null" : typeof source}`,
      );
  });
  return { sources: sources as ItemSource<unknown>[], options: hasOptions ? last : undefined };
}

export function zipSources(sources: readonly ItemSource<unknown>[]): ItemSource<unknown[]> {
  if (sources.every(isArrayLike)) {
    const arrays = sources as unknown as ArrayLike<unknown>[];
    const length = Math.min(...arrays.map((a) => a.length));
    return Array.from({ length }, (_, i) => arrays.map((a) => a[i]));
  }
  if (sources.every((s) => isIterable(s))) return zipSync(sources as Iterable<unknown>[]);
  return zipAsync(sources);
}

function* zipSync(sources: readonly Iterable<unknown>[]): Generator<unknown[]> {
  const iterators = sources.map((s) => s[Symbol.iterator]());
  let ended = -1;
  try {
    for (;;) {
      const row: unknown[] = [];
      for (let i = 0; i < iterators.length; i++) {
        const next = iterators[i].next();
        if (next.done) {
          ended = i;
          return;
        }
        row.push(next.value);
      }
      yield row;
    }
  } finally {
    iterators.forEach((it, i) => i !== ended && it.return?.());
  }
}

async function* zipAsync(sources: readonly ItemSource<unknown>[]): AsyncGenerator<unknown[]> {
  const iterators = sources.map((s) =>
    isAsyncIterable<unknown>(s) ? s[Symbol.asyncIterator]() : (s as Iterable<unknown>)[Symbol.iterator](),
  );
  let ended = -1;
  try {
    for (;;) {
      const row: unknown[] = [];
      for (let i = 0; i < iterators.length; i++) {
        const next = await iterators[i].next();
        if (next.done) {
          ended = i;
          return;
        }
        row.push(next.value);
      }
      yield row;
    }
  } finally {
    await Promise.all(iterators.map(async (it, i) => (i !== ended ? it.return?.() : undefined)));
  }
}

/** A value fn(...value) can take: an array, or another iterable (spread as a call spreads it). */
function spreadable(value: unknown): boolean {
  return (
    Array.isArray(value) || (value !== null && value !== undefined && typeof value !== "string" && isIterable(value))
  );
}

function notAnArgumentList(owner: string, index: number, value: unknown): ArgumentError {
  const got = value === null ? "null" : typeof value === "object" ? "an object" : `${typeof value} ${String(value)}`;
  return new ArgumentError(`${owner} item ${index}`, `expected an array of arguments, got ${got}`);
}

/**
 * starmap's argument lists, each checked as it is taken: a value that is no list of arguments is the
 * caller's error, said on this side naming its place, not a TypeError from a worker's spread. An array
 * is checked at once (its length stays known); any other source item by item as it is read.
 */
export function argumentLists(owner: string, items: ItemSource<unknown>): ItemSource<unknown> {
  if (Array.isArray(items)) {
    for (let i = 0; i < items.length; i++) if (!spreadable(items[i])) throw notAnArgumentList(owner, i, items[i]);
    return items;
  }
  return (async function* () {
    let i = 0;
    for await (const item of items) {
      if (!spreadable(item)) throw notAnArgumentList(owner, i, item);
      i++;
      yield item;
    }
  })();
}
