/** How big a map's items are on the wire, judged from a few of them (automatic chunk size, imap's window). */
import { LARGE_PAYLOAD_BYTES } from "../bytes.js";
import { ApartSerializer } from "./split-payload.js";

/**
 * About how many bytes one item takes in a request body (V8 codec), from up
 * to 16 items spread over `items`: 8 when they are numbers (they travel as
 * raw bytes), 64 when the sample cannot be serialized (encoding then names
 * the item that fails).
 */
export function estimateItemBytes(items: ArrayLike<unknown>): number {
  const n = items.length;
  if (n === 0) return 1;
  const step = Math.max(1, Math.floor(n / 16));
  const sample: unknown[] = [];
  for (let i = 0; i < n && sample.length < 16; i += step) sample.push(items[i]);
  if (sample.every((item) => typeof item === "number")) return Float64Array.BYTES_PER_ELEMENT;
  try {
    // Measured, not made: large typed arrays count by their length, without the serializer copying them.
    const serializer = new ApartSerializer(LARGE_PAYLOAD_BYTES);
    serializer.writeHeader();
    serializer.writeValue(sample);
    return Math.ceil(serializer.finish().length / sample.length);
  } catch {
    return 64;
  }
}
