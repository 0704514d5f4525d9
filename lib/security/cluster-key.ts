/**
 * The cluster secret, turned into one HMAC-SHA256 key per kind of message.
 *
 * Every signature is a 56-byte trailer:
 *
 *   u64 BE time (ms since the epoch) | 16-byte nonce | 32-byte HMAC-SHA256
 *
 * A nonce is 8 random bytes drawn once per process followed by a u64 counter:
 * unique without a system call per message (it needs to be unique, not
 * secret: the HMAC is what an attacker cannot forge).
 *
 * The HMAC covers the message's bytes, the time and the nonce, plus an
 * optional context that is not sent (a response is bound to its request's
 * nonce). Each kind of message has its own key, derived from the secret, so a
 * signed log record can never pass for a command, nor a response for a request.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";
import { SignatureError } from "./errors.js";
import { ArgumentError } from "../argument-error.js";

export const SIGNATURE_BYTES = 56;
const TIME_BYTES = 8;
const NONCE_BYTES = 16;
/** Shortest accepted secret, in bytes. */
export const MIN_SECRET_BYTES = 16;

/** The kinds of signed messages; each has its own key. */
export type SignedKind = "chunk-request" | "chunk-response" | "command" | "log";
const KINDS: readonly SignedKind[] = ["chunk-request", "chunk-response", "command", "log"];

/** What a verified signature says. */
export interface SignatureFacts {
  /** The sender's time, in ms since the epoch. */
  readonly time: number;
  /** The nonce, as hex: unique per signed message. */
  readonly nonce: string;
  readonly nonceBytes: Buffer;
}

export class ClusterKey {
  private readonly keys: ReadonlyMap<SignedKind, KeyObject>;

  /** `secret`: at least 16 bytes of text (or bytes), the same on every client and worker of the cluster. */
  constructor(secret: string | Uint8Array) {
    const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
    if (bytes.length < MIN_SECRET_BYTES)
      throw new ArgumentError("cluster secret", `needs at least ${MIN_SECRET_BYTES} bytes, got ${bytes.length}`);
    // Key objects, made once: an HMAC per message then skips importing the key bytes.
    this.keys = new Map(
      KINDS.map((kind) => [
        kind,
        createSecretKey(createHmac("sha256", bytes).update(`glimpse-cluster v1 ${kind}`).digest()),
      ]),
    );
  }

  /** A trailer signing `parts` (and `context`, which is not sent) now, with a fresh nonce. */
  sign(kind: SignedKind, parts: readonly Uint8Array[], context?: Uint8Array): Buffer {
    const trailer = Buffer.allocUnsafe(SIGNATURE_BYTES);
    trailer.writeBigUInt64BE(BigInt(Date.now()), 0);
    nextNonce(trailer, TIME_BYTES);
    this.mac(kind, parts, trailer.subarray(0, TIME_BYTES + NONCE_BYTES), context).copy(
      trailer,
      TIME_BYTES + NONCE_BYTES,
    );
    return trailer;
  }

  /** Checks a trailer against `parts`; throws SignatureError("forged") if it does not verify. */
  verify(
    kind: SignedKind,
    parts: readonly Uint8Array[],
    trailer: Uint8Array,
    what: string,
    context?: Uint8Array,
  ): SignatureFacts {
    if (trailer.length !== SIGNATURE_BYTES) throw new SignatureError("forged", what);
    const signature = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength);
    const expected = this.mac(kind, parts, signature.subarray(0, TIME_BYTES + NONCE_BYTES), context);
    if (!timingSafeEqual(expected, signature.subarray(TIME_BYTES + NONCE_BYTES)))
      throw new SignatureError("forged", what);
    return nonceOf(signature);
  }

  private mac(
    kind: SignedKind,
    parts: readonly Uint8Array[],
    timeAndNonce: Uint8Array,
    context: Uint8Array | undefined,
  ): Buffer {
    const hmac = createHmac("sha256", this.keys.get(kind)!);
    for (const part of parts) {
      // Length-prefixed, so moving bytes from one part to the next changes the MAC.
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32BE(part.length);
      hmac.update(length).update(part);
    }
    hmac.update(timeAndNonce);
    if (context) hmac.update(context);
    return hmac.digest();
  }
}

const processNonce = randomBytes(8);
let nonceCounter = 0n;

/** Writes the next nonce of this process at `offset`. */
function nextNonce(into: Buffer, offset: number): void {
  processNonce.copy(into, offset);
  into.writeBigUInt64BE(++nonceCounter, offset + 8);
}

/** The time and nonce of a trailer (not verified). */
export function nonceOf(trailer: Uint8Array): SignatureFacts {
  const signature = Buffer.from(trailer.buffer, trailer.byteOffset, trailer.byteLength);
  const nonceBytes = signature.subarray(TIME_BYTES, TIME_BYTES + NONCE_BYTES);
  return { time: Number(signature.readBigUInt64BE(0)), nonce: nonceBytes.toString("hex"), nonceBytes };
}
