/**
 * The numbers codec (codec 3, docs/wire-format.md "Numbers"): a chunk whose
 * items, or whose results, are all numbers travels as their raw bytes, with
 * no per-item encoding on either side. The body:
 *
 *   offset 0  u8 element      1 float64, 2 int32 (each little-endian)
 *          1  3 bytes         0
 *          4  u32 BE n        length of the function reference (0 in a response)
 *          8  n bytes         the function reference, JSON (UTF-8)
 *             0-7 bytes       0, up to a multiple of 8 from the payload's first byte
 *             count × 8 or 4  the numbers
 *
 * Int32 when every value is a 32-bit integer other than -0, else float64:
 * both keep every number exactly (NaN, ±Infinity, -0, integers up to 2^53).
 * The numbers start 8-aligned within the payload, so a reader whose payload
 * starts aligned (a buffer of its own: what a node moves to its thread, what
 * the encoders make) views them where they lie; any other reader copies them
 * once.
 */
import { WireFormatError } from "./errors.js";

export const enum NumberElement {
  Float64 = 1,
  Int32 = 2,
}

export type NumberArray = Float64Array | Int32Array;

/** Bytes of the body before the function reference. */
const BODY_HEAD = 8;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Typed arrays whose every element is a 32-bit integer other than -0. */
const INT32_ARRAYS = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array];

/**
 * The element the values travel as when every one is a number (plain arrays
 * and typed arrays alike, BigInt arrays excepted); undefined otherwise.
 */
export function numberElement(values: ArrayLike<unknown>): NumberElement | undefined {
  if (INT32_ARRAYS.some((type) => values instanceof type)) return NumberElement.Int32;
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) return undefined;
  const typed = ArrayBuffer.isView(values);
  const n = values.length;
  let i = 0;
  for (; i < n; i++) {
    const v = values[i];
    if (typeof v !== "number") return undefined;
    if ((v | 0) !== v || (v === 0 && 1 / v < 0)) break;
  }
  if (i === n) return NumberElement.Int32;
  if (typed) return NumberElement.Float64;
  for (; i < n; i++) if (typeof values[i] !== "number") return undefined;
  return NumberElement.Float64;
}

const elementBytes = (element: NumberElement) => (element === NumberElement.Int32 ? 4 : 8);

/**
 * Writes a numbers body at `at` of `out` (a buffer of its own, from numbersBodySize's room): the element,
 * the function reference's JSON (`fnJson`, empty in a response), the padding and the values.
 */
export function writeNumbersBody(
  out: Buffer,
  at: number,
  element: NumberElement,
  fnJson: Buffer | undefined,
  values: ArrayLike<number>,
): void {
  const fnLength = fnJson?.length ?? 0;
  out[at] = element;
  out.fill(0, at + 1, at + BODY_HEAD);
  out.writeUInt32BE(fnLength, at + 4);
  fnJson?.copy(out, at + BODY_HEAD);
  const start = align(at + BODY_HEAD + fnLength);
  out.fill(0, at + BODY_HEAD + fnLength, start);
  const n = values.length;
  if (LITTLE_ENDIAN && (out.byteOffset + start) % 8 === 0) {
    const view =
      element === NumberElement.Int32
        ? new Int32Array(out.buffer, out.byteOffset + start, n)
        : new Float64Array(out.buffer, out.byteOffset + start, n);
    view.set(values); // one copy in C++ for a plain array of numbers or any typed array
    return;
  }
  for (let i = 0; i < n; i++) {
    if (element === NumberElement.Int32) out.writeInt32LE(values[i], start + 4 * i);
    else out.writeDoubleLE(values[i], start + 8 * i);
  }
}

/** Bytes a numbers body takes when it starts at `at` of its payload. */
export function numbersBodySize(at: number, element: NumberElement, fnLength: number, count: number): number {
  return align(at + BODY_HEAD + fnLength) - at + count * elementBytes(element);
}

const align = (offset: number) => (offset + 7) & ~7;

export interface NumbersBody {
  /** The function reference's JSON text; empty in a response. */
  readonly fnJson: string;
  readonly numbers: NumberArray;
}

/** Reads the numbers body in `payload[bodyStart, bodyEnd)`; `what` names it in the WireFormatError of a body that is not one. */
export function readNumbersBody(payload: Buffer, bodyStart: number, bodyEnd: number, what: string): NumbersBody {
  if (bodyEnd - bodyStart < BODY_HEAD) throw new WireFormatError(`${what}: numbers body shorter than its head`);
  const element = payload[bodyStart];
  if (element !== NumberElement.Float64 && element !== NumberElement.Int32)
    throw new WireFormatError(`${what}: unknown number element ${element}`);
  const fnLength = payload.readUInt32BE(bodyStart + 4);
  const fnEnd = bodyStart + BODY_HEAD + fnLength;
  const start = align(fnEnd);
  const size = elementBytes(element);
  if (start > bodyEnd || (bodyEnd - start) % size !== 0)
    throw new WireFormatError(`${what}: numbers body of ${bodyEnd - bodyStart} bytes does not hold whole numbers`);
  const count = (bodyEnd - start) / size;
  const fnJson = payload.toString("utf8", bodyStart + BODY_HEAD, fnEnd);
  const Type = element === NumberElement.Int32 ? Int32Array : Float64Array;
  if (LITTLE_ENDIAN && (payload.byteOffset + start) % size === 0)
    return { fnJson, numbers: new Type(payload.buffer as ArrayBuffer, payload.byteOffset + start, count) };
  const numbers = new Type(count);
  if (LITTLE_ENDIAN) new Uint8Array(numbers.buffer).set(payload.subarray(start, bodyEnd));
  else
    for (let i = 0; i < count; i++)
      numbers[i] = size === 4 ? payload.readInt32LE(start + 4 * i) : payload.readDoubleLE(start + 8 * i);
  return { fnJson, numbers };
}
