/**
 * Bytes as every layer passes them (Gearman packets, chunk payloads, a node's
 * threads, serve's handlers): a Buffer, any Uint8Array view, or text as
 * UTF-8. Here are their one conversion to a Buffer, the size from which a
 * payload is handled where it lies rather than copied, and how a job
 * handler's return value becomes its result's bytes.
 */
import { ArgumentError } from "./argument-error.js";

/**
 * From this many bytes on, a payload is handled where it lies instead of
 * copied: kept as a view of the bytes it arrived in (keepPayload), written
 * from its own buffer after its packet's head (encodeRawParts, the job
 * server's peers), moved to a worker thread as one copy rather than cloned
 * (ChunkThreads). Below it, a copy costs less than what it spares.
 */
export const LARGE_PAYLOAD_BYTES = 16 * 1024;

/** `data` as a Buffer over the same memory (strings are encoded as UTF-8); anything else is an ArgumentError naming `argument`. */
export function toBuffer(data: Buffer | Uint8Array | string, argument: string): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new ArgumentError(argument, `expected a Buffer, Uint8Array or string, got ${describe(data)}`);
}

function describe(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * What a job handler returned, as its job's result: nothing (undefined or
 * null) is no bytes, a string its UTF-8, bytes themselves (viewed, not
 * copied). Undefined for any other value: the caller ends the job with
 * badResult's text.
 */
export function resultBytes(value: unknown): Buffer | undefined {
  if (value === undefined || value === null) return NO_BYTES;
  if (typeof value === "string" || value instanceof Uint8Array) return toBuffer(value, "result");
  return undefined;
}

/** Why `value`, returned by `handler`, is no result (resultBytes gave undefined). */
export function badResult(handler: string, value: unknown): string {
  return `${handler} returned ${describe(value)}, expected a string, bytes (Buffer or Uint8Array) or nothing`;
}
