/**
 * A job's bytes as callers hand them over (a Buffer, any Uint8Array view, or
 * text as UTF-8), and their one conversion to a Buffer: a Buffer is passed
 * on as is and a Uint8Array is viewed, never copied.
 */
import { ArgumentError } from "../argument-error.js";

export type Payload = Buffer | Uint8Array | string;

/** `data` as a Buffer over the same memory (strings are encoded as UTF-8); anything else is an ArgumentError naming `argument`. */
export function toBuffer(data: Payload, argument: string): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new ArgumentError(argument, `expected a Buffer, Uint8Array or string, got ${describe(data)}`);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

/** Payloads from this size on may be kept as views of the bytes they arrived in (keepPayload). */
export const KEEP_VIEW_AT = 16 * 1024;

/**
 * Buffers a writer hands over whole to the one reader of an in-process
 * stream, to keep no reference and never write again (the job server marks
 * a worker's result it forwards to a job's only client). A decoder that
 * receives one as a chunk may treat it as the receiver's alone.
 */
const handedOver = new WeakSet<Buffer>();

export function handOver(bytes: Buffer): Buffer {
  handedOver.add(bytes);
  return bytes;
}

export function isHandedOver(bytes: Buffer): boolean {
  return handedOver.has(bytes);
}

/**
 * A received payload to keep past the packet's callback: the view itself
 * when its memory is the receiver's alone (`exclusive`, Packet.exclusive),
 * it is large and it fills most of the buffer it lies in (so it pins little
 * else); otherwise a copy.
 */
export function keepPayload(bytes: Buffer, exclusive: boolean): Buffer {
  if (exclusive && bytes.length >= KEEP_VIEW_AT && bytes.length * 2 >= bytes.buffer.byteLength) return bytes;
  return Buffer.from(bytes);
}
