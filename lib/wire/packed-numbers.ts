/**
 * Items or results that are all numbers travel as one typed array instead of
 * an array of values (V8 codec only; docs/wire-format.md "Packed numbers").
 * The V8 serializer writes a typed array as its raw bytes, so packing costs
 * one pass over the values and unpacking a copy, where an array of numbers
 * costs a tagged value each way (measured: 26 ms against 2 ms to deserialize
 * a million small integers).
 *
 * Int32Array when every value is a 32-bit integer (and not -0), else
 * Float64Array: both keep every number exactly, NaN and -0 included.
 */

/** Fewer values than this travel as they are: packing would save nothing measurable. */
export const PACK_AT_LEAST = 16;

export type PackedNumbers = Int32Array | Float64Array;

/** The values as a typed array when they are all numbers (and at least PACK_AT_LEAST of them); otherwise undefined. */
export function packNumbers(values: ArrayLike<unknown>): PackedNumbers | undefined {
  const n = values.length;
  if (n < PACK_AT_LEAST) return undefined;
  let int32 = true;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v !== "number") return undefined;
    if (int32 && ((v | 0) !== v || (v === 0 && 1 / v < 0))) int32 = false;
  }
  const out = int32 ? new Int32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = values[i] as number;
  return out;
}

export function isPackedNumbers(value: unknown): value is PackedNumbers {
  return value instanceof Int32Array || value instanceof Float64Array;
}

/** A plain (packed, not holey) array of the numbers. */
export function unpackNumbers(packed: PackedNumbers): number[] {
  const out: number[] = [];
  for (let i = 0; i < packed.length; i++) out.push(packed[i]);
  return out;
}
