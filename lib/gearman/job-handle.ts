/**
 * A job handle is bytes the job server made up (gearmand: `H:host:n`), which
 * clients and workers hand back exactly: in WORK_* packets, GET_STATUS and
 * the admin `cancel job`. Both sides hold it as a byte string (latin1: one
 * char per byte), as our job server holds every packet argument, so any byte
 * round-trips; an ASCII handle (gearmand's, ours) reads as it is. UTF-8
 * would turn a byte that is no UTF-8 into U+FFFD, a handle no server knows.
 */

/** The handle in `bytes` (from `start` to `end`), as a byte string. */
export function handleText(bytes: Buffer, start?: number, end?: number): string {
  return bytes.toString("latin1", start, end);
}

/** A handle's bytes, to send back. */
export function handleBytes(handle: string): Buffer {
  return Buffer.from(handle, "latin1");
}
