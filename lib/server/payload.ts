/**
 * A job's payload as the server keeps it: a byte string (latin1, one char
 * per byte) when small, so a million queued small jobs stay compact; else
 * the bytes it arrived as, written out again without a copy.
 */

/** Payloads from this size on are kept as bytes, not as a byte string. */
export const BYTES_PAYLOAD_AT = 4096;

/**
 * A job's data as the server keeps it: a byte string (latin1) when small,
 * else its bytes. (Not lib/gearman's Payload, which is what callers of the
 * client and worker hand over.)
 */
export type JobData = string | Buffer;

/**
 * The payload at `body[from..]` of a received packet. A large one is kept as
 * a view when it fills most of the buffer it arrived in (so nothing is
 * copied), else copied out (so a small view never pins a large read buffer).
 */
export function payloadOf(body: Buffer, from: number): JobData {
  const length = body.length - from;
  if (length < BYTES_PAYLOAD_AT) return body.toString("latin1", from);
  const view = body.subarray(from);
  return length * 2 >= view.buffer.byteLength ? view : Buffer.from(view);
}

/** The payload as a byte string (journal records, `-` uniques). */
export function payloadString(data: JobData): string {
  return typeof data === "string" ? data : data.toString("latin1");
}
