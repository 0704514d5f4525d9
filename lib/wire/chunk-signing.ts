/**
 * Signed chunk payloads (docs/wire-format.md "Signed payloads"): flag bit 0
 * set in the header and a 56-byte trailer after the body,
 *
 *   u64 BE time ms | 16-byte nonce | HMAC-SHA256   (lib/security/cluster-key.ts)
 *
 * A request's HMAC covers every byte before the trailer; a response's also
 * covers the nonce of the request it answers, so it is valid for that
 * attempt only. Requests and responses are signed with keys of their own
 * kind, so neither passes for the other.
 */
import { SIGNATURE_BYTES, nonceOf, type ClusterKey, type SignatureFacts } from "../security/cluster-key.js";
import type { MessageGuard } from "../security/message-guard.js";
import { SignatureError } from "../security/errors.js";
import { FLAG_SIGNED, HEADER, Kind, PAYLOAD, readFrame, type ChunkFrame } from "./chunk-codec.js";
import { toBuffer } from "../bytes.js";
import { WireFormatError } from "./errors.js";

/** Which key signs a payload: requests and responses have one each, so neither passes for the other. */
function signedKind(frame: ChunkFrame): "chunk-request" | "chunk-response" {
  return frame.kind === Kind.Response ? "chunk-response" : "chunk-request";
}

/** Whether a payload carries a signature (flag bit 0). */
export function isSignedChunk(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER && (bytes[7] & FLAG_SIGNED) !== 0;
}

/**
 * A signed copy of an unsigned request or response: flag bit 0 set and a fresh
 * signature trailer. A response passes its request's nonce as `context`.
 * Each attempt of a chunk is signed anew (its own time and nonce).
 */
export function signChunk(bytes: Uint8Array, key: ClusterKey, context?: Uint8Array): Buffer {
  const unsigned = toBuffer(bytes, PAYLOAD);
  const out = Buffer.allocUnsafe(unsigned.length + SIGNATURE_BYTES);
  unsigned.copy(out, 0);
  return signWithin(out, unsigned.length, key, context);
}

/**
 * signChunk without the copy, for payloads straight from the codec's
 * encoders: the V8 encoders leave room for a signature at the end of the
 * buffer they make, and this writes it there, setting flag bit 0 in `bytes`
 * itself. So `bytes` is spent: sign it once and use only the result. Bytes
 * that do not end exactly SIGNATURE_BYTES before their buffer's end (a
 * Buffer pool slab, JSON payloads, anyone else's bytes) are copied, as by
 * signChunk.
 */
export function signChunkInPlace(bytes: Uint8Array, key: ClusterKey, context?: Uint8Array): Buffer {
  if (bytes.byteOffset + bytes.byteLength + SIGNATURE_BYTES !== bytes.buffer.byteLength)
    return signChunk(bytes, key, context);
  return signWithin(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength + SIGNATURE_BYTES),
    bytes.byteLength,
    key,
    context,
  );
}

/** Signs the first `length` bytes of `out` into its last SIGNATURE_BYTES. */
function signWithin(out: Buffer, length: number, key: ClusterKey, context: Uint8Array | undefined): Buffer {
  const frame = readFrame(out);
  const kind = signedKind(frame);
  if (frame.signed) throw new WireFormatError(`${kind}: already signed`);
  out[7] |= FLAG_SIGNED;
  key.sign(kind, [out.subarray(0, length)], context).copy(out, length);
  return out;
}

/**
 * Checks a payload's signature as its receiver: with a guard (this side has
 * the secret) it must be signed, verify, be fresh and be new; without one it
 * must not be signed. Returns the signature's time and nonce (undefined when
 * unsigned); throws SignatureError naming `what`. Given the payload's frame
 * (readFrame), it reads nothing of it again.
 */
export function verifyChunk(
  payload: Uint8Array | ChunkFrame,
  guard: MessageGuard | undefined,
  what: string,
  context?: Uint8Array,
): SignatureFacts | undefined {
  const frame = payload instanceof Uint8Array ? readFrame(payload) : payload;
  const { bytes: buf, signed } = frame;
  const kind = signedKind(frame);
  if (!guard) {
    if (signed) throw new SignatureError("no-secret", what);
    return undefined;
  }
  if (!signed || buf.length < HEADER + SIGNATURE_BYTES) return guard.check(kind, [], undefined, what);
  const split = buf.length - SIGNATURE_BYTES;
  return guard.check(kind, [buf.subarray(0, split)], buf.subarray(split), what, context);
}

/** The nonce of a signed payload (undefined when unsigned), without checking it. */
export function chunkNonce(bytes: Uint8Array): Buffer | undefined {
  if (!isSignedChunk(bytes) || bytes.length < HEADER + SIGNATURE_BYTES) return undefined;
  return nonceOf(toBuffer(bytes, PAYLOAD).subarray(bytes.length - SIGNATURE_BYTES)).nonceBytes;
}
