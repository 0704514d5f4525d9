/**
 * How big a chunk is against the largest packet a job server carries
 * ([client] max_packet_size, MakePool's maxPacketSize; 64 MiB by default),
 * and which items make it so: the pool checks each request before it sends
 * it, a node each response before it answers, so a chunk too large fails
 * once, naming its items, instead of dropping connections that look like
 * dead workers (docs/robustness.md "Too large").
 *
 *   SUBMIT_JOB data        func NUL unique NUL request               (client → job server)
 *   JOB_ASSIGN_UNIQ data   handle NUL func NUL unique NUL request    (job server → node: the largest)
 *   WORK_COMPLETE data     handle NUL response
 */
import v8 from "node:v8";

/** One item and its size in a chunk's body. */
export interface ItemSize {
  /** Its index in the map. */
  readonly index: number;
  readonly bytes: number;
}

/** Room for a job handle and its NUL: gearmand's handles are at most 64 bytes. */
const HANDLE_ROOM = 65;

/** The data size of the JOB_ASSIGN_UNIQ that hands a request to a node, whatever handle the job server gives it. */
export function requestPacketData(request: number, func: string, unique: string): number {
  return packetData(request, func, unique) + HANDLE_ROOM;
}

/** The data size of a Gearman packet carrying `payload` after `args` (each followed by a NUL). */
export function packetData(payload: number, ...args: string[]): number {
  let size = payload;
  for (const arg of args) size += Buffer.byteLength(arg) + 1;
  return size;
}

/**
 * The `top` largest of `values` as encoded alone (V8), largest first; `start`: the index of the first
 * in the map. Measured on failure only: it serializes each value.
 */
export function largestItems(values: ArrayLike<unknown>, start: number, top = 3): ItemSize[] {
  const sizes: ItemSize[] = [];
  for (let i = 0; i < values.length; i++) {
    let bytes: number;
    try {
      bytes = v8.serialize(values[i]).length;
    } catch {
      continue;
    }
    sizes.push({ index: start + i, bytes });
  }
  return sizes.sort((a, b) => b.bytes - a.bytes).slice(0, top);
}

/** "67108864 bytes (64 MiB)". */
export function bytesText(bytes: number): string {
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = "";
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return unit === "" ? `${bytes} bytes` : `${bytes} bytes (${Number(value.toFixed(1))} ${unit})`;
}

/**
 * Why a chunk of `size` bytes cannot travel, naming its largest items (`what`: "items" for a request,
 * "results" for a response): one over the limit alone, or the chunk as a whole.
 */
export function tooLargeDetail(
  what: "items" | "results",
  size: number,
  limit: number,
  largest: readonly ItemSize[],
): string {
  const first = largest[0];
  const noun = what === "items" ? "item" : "the result of item";
  const over = `${bytesText(size)}, over the ${bytesText(limit)} a job server packet may carry (max_packet_size)`;
  if (first !== undefined && first.bytes >= limit)
    return `${noun} ${first.index} alone is ${bytesText(first.bytes)} encoded: the chunk's ${what} are ${over}`;
  const named = largest.map((item) => `${item.index} (${bytesText(item.bytes)})`).join(", ");
  return `the chunk's ${what} are ${over}${named === "" ? "" : `; the largest: ${what === "items" ? "items" : "results of items"} ${named}`}: a smaller chunksize would split them`;
}
