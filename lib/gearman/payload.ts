/**
 * A job's bytes as callers hand them over (a Buffer, any Uint8Array view, or
 * text as UTF-8: toBuffer, lib/bytes.ts, makes a Buffer of them without a
 * copy), and who may keep the bytes a job's packet arrived in.
 */
import { LARGE_PAYLOAD_BYTES } from "../bytes.js";

export type Payload = Buffer | Uint8Array | string;

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
 * it is large (LARGE_PAYLOAD_BYTES) and it fills most of the buffer it lies in (so it pins little
 * else); otherwise a copy.
 */
export function keepPayload(bytes: Buffer, exclusive: boolean): Buffer {
  if (exclusive && bytes.length >= LARGE_PAYLOAD_BYTES && bytes.length * 2 >= bytes.buffer.byteLength) return bytes;
  return Buffer.from(bytes);
}
