/**
 * Items refused one by one: under `errors: "return"` (a settled map, and every batch of submitted
 * calls) an item that cannot be sent is its own outcome, as an item whose function threw is, and
 * the other items of its chunk go. Without this one bad argument would end the whole map, and with
 * it every call of a batch, calls that could have run.
 *
 *   the chunk's items still to go ──encode──► ItemSerializationError (a symbol, a class instance) ──► refused
 *                                        └──► over maxPacketSize, and one item alone is ──► that item refused (TOO_LARGE)
 *   (again without it, until the request can go: at most once per item)
 *
 * The check is the encoding that sending needs anyway: nothing is looked at twice until something fails.
 * A chunk over the limit only as a whole (no item alone is) is no item's fault: it fails at its attempt
 * (chunk-job.ts), its items' outcome.
 */
import { ItemSerializationError } from "../wire/errors.js";
import { bytesText, largestItems, requestPacketData, tooLargeDetail } from "../wire/packet-limit.js";
import type { SplitPayload } from "../wire/split-payload.js";
import type { Chunk } from "./chunks.js";
import { chunkTooLarge } from "./errors.js";
import type { ChunkPart, SettledChunk } from "./settled-chunk.js";

export interface RefusalContext {
  readonly mapId: string;
  readonly gearmanFunction: string;
  readonly maxPacketSize?: number;
  /** How a submitted call is named, by its index in the batch (callsOf); none: items are named by index. */
  readonly callAt?: (index: number) => string;
}

/**
 * The first attempt's payload, once each item that cannot be sent is refused in `settled` with the error
 * naming it; undefined when every item was refused.
 */
export function sendablePayload(
  context: RefusalContext,
  chunk: Chunk<unknown>,
  settled: SettledChunk,
  encode: (part: ChunkPart) => Buffer | SplitPayload,
): Buffer | SplitPayload | undefined {
  // A pass that refuses nothing ends; each of the others refuses every item it found at once.
  for (;;) {
    const part = settled.part();
    if (part.items.length === 0) return undefined;
    let payload: Buffer | SplitPayload;
    try {
      payload = encode(part);
    } catch (error) {
      if (!(error instanceof ItemSerializationError)) throw error;
      if (!settled.refuseAll(unencodable(context, part, encode), chunk.start)) throw error;
      continue;
    }
    const limit = context.maxPacketSize;
    if (limit === undefined) return payload;
    const size = requestPacketData(payload.length, context.gearmanFunction, `${context.mapId}:${chunk.index}:1`);
    if (size <= limit) return payload;
    if (!settled.refuseAll(aloneTooLarge(context, chunk, part, limit), chunk.start)) return payload;
  }
}

/** The index in the map of the `i`-th item of `part`. */
const indexIn = (part: ChunkPart, i: number): number => part.indexes?.[i] ?? part.start + i;

/** Every item of `part` that cannot be encoded, each tried alone (only once the whole failed), with its refusal by index. */
function unencodable(
  context: RefusalContext,
  part: ChunkPart,
  encode: (part: ChunkPart) => Buffer | SplitPayload,
): Map<number, Error> {
  const refusals = new Map<number, Error>();
  for (let i = 0; i < part.items.length; i++) {
    const index = indexIn(part, i);
    try {
      encode({ items: [part.items[i]], start: index });
    } catch (error) {
      if (!(error instanceof ItemSerializationError)) throw error;
      const call = context.callAt?.(index);
      refusals.set(index, call === undefined ? error : new ItemSerializationError(index, error.cause, call));
    }
  }
  return refusals;
}

/** Every item of `part` over `limit` on its own (measured only now: it serializes each item), with its refusal by index. */
function aloneTooLarge(
  context: RefusalContext,
  chunk: Chunk<unknown>,
  part: ChunkPart,
  limit: number,
): Map<number, Error> {
  const refusals = new Map<number, Error>();
  for (const { index: i, bytes } of largestItems(part.items, 0, part.items.length)) {
    if (bytes < limit) break; // largest first
    const index = indexIn(part, i);
    const call = context.callAt?.(index);
    refusals.set(
      index,
      call === undefined
        ? chunkTooLarge(
            { index: chunk.index, start: index, size: 1 },
            "request",
            tooLargeDetail("items", bytes, limit, [{ index, bytes }]),
          )
        : chunkTooLarge(
            call,
            "request",
            `its arguments are ${bytesText(bytes)} encoded, over the ${bytesText(limit)} a job server packet may carry (max_packet_size)`,
          ),
    );
  }
  return refusals;
}
