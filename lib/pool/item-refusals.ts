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
  // Each pass refuses one more item (refuse is true only for an item still to go) or ends: at most one per item.
  for (;;) {
    const part = settled.part();
    if (part.items.length === 0) return undefined;
    let payload: Buffer | SplitPayload;
    try {
      payload = encode(part);
    } catch (error) {
      if (!(error instanceof ItemSerializationError)) throw error;
      const call = context.callAt?.(error.index);
      const refusal = call === undefined ? error : new ItemSerializationError(error.index, error.cause, call);
      if (!settled.refuse(error.index - chunk.start, refusal)) throw error;
      continue;
    }
    const limit = context.maxPacketSize;
    if (limit === undefined) return payload;
    const size = requestPacketData(payload.length, context.gearmanFunction, `${context.mapId}:${chunk.index}:1`);
    if (size <= limit) return payload;
    // Measured only now (it serializes each item): is one item alone over the limit?
    const [largest] = largestItems(part.items, 0, 1);
    if (largest === undefined || largest.bytes < limit) return payload;
    const index = part.indexes?.[largest.index] ?? part.start + largest.index;
    const call = context.callAt?.(index);
    const refusal =
      call === undefined
        ? chunkTooLarge(
            { index: chunk.index, start: index, size: 1 },
            "request",
            tooLargeDetail("items", size, limit, [{ index, bytes: largest.bytes }]),
          )
        : chunkTooLarge(
            call,
            "request",
            `its arguments are ${bytesText(largest.bytes)} encoded, over the ${bytesText(limit)} a job server packet may carry (max_packet_size)`,
          );
    if (!settled.refuse(index - chunk.start, refusal)) return payload;
  }
}
