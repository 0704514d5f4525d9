/**
 * The rate limit on a worker node's forwarded output: one token bucket that
 * the node's threads share (an Int32Array on a SharedArrayBuffer), so a
 * runaway logger in one thread or several cannot flood the log channel.
 * Threads take a token per console call and count what they drop; the
 * node's main thread refills it and reads the drops, to report them.
 *
 *   thread: console.log ──take()──► a token: forwarded │ none: dropped (counted here and in the chunk's tally)
 *   node:   every REFILL_MS ──refill()──► tokens += rate × REFILL_MS, up to the burst; drops read and reset
 *
 * The rate and burst are the protocol's (lib/wire/protocol.ts): pools say them when they report drops.
 */
import { OUTPUT_BURST, OUTPUT_LINES_PER_SECOND } from "../wire/protocol.js";

/** How often the bucket is refilled, in ms. */
export const REFILL_MS = 100;

const TOKENS = 0;
const DROPPED = 1;

/** The bucket's shared memory, made by the node and handed to its threads. */
export function newOutputBucket(): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  new Int32Array(buffer)[TOKENS] = OUTPUT_BURST;
  return buffer;
}

/** A thread's side: a token for one line, or false (the line is dropped, and counted). */
export function takeToken(bucket: Int32Array): boolean {
  for (;;) {
    const tokens = Atomics.load(bucket, TOKENS);
    if (tokens <= 0) {
      Atomics.add(bucket, DROPPED, 1);
      return false;
    }
    if (Atomics.compareExchange(bucket, TOKENS, tokens, tokens - 1) === tokens) return true;
  }
}

/** The node's side, every REFILL_MS: adds a tick's tokens (up to the burst); returns the lines dropped since the last call. */
export function refill(bucket: Int32Array): number {
  const add = Math.ceil((OUTPUT_LINES_PER_SECOND * REFILL_MS) / 1000);
  for (;;) {
    const tokens = Atomics.load(bucket, TOKENS);
    if (Atomics.compareExchange(bucket, TOKENS, tokens, Math.min(OUTPUT_BURST, tokens + add)) === tokens) break;
  }
  return Atomics.exchange(bucket, DROPPED, 0);
}
