/**
 * Job handles, `H:<prefix>:<n>` as gearmand makes them, derived from a job's
 * number so that no job stores its handle. The prefix is a byte string
 * (latin1) of at most 40 bytes, so a handle stays within gearmand's 64.
 */
export class JobHandles {
  private readonly head: string;
  /** `head` as bytes, for reading a handle where it lies in a packet. */
  private readonly headBytes: Buffer;

  constructor(prefix: string) {
    this.head = `H:${Buffer.from(prefix).toString("latin1")}:`;
    this.headBytes = Buffer.from(this.head, "latin1");
  }

  /** The handle of job number `id`. */
  of(id: number): string {
    return this.head + id;
  }

  /** The job number a handle names, or undefined for a handle this server never makes. */
  id(handle: string): number | undefined {
    const head = this.head;
    if (handle.length <= head.length || handle.length > head.length + 16 || !handle.startsWith(head)) return undefined;
    let id = 0;
    for (let i = head.length; i < handle.length; i++) {
      const digit = handle.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9 || (digit === 0 && i === head.length)) return undefined;
      id = id * 10 + digit;
    }
    return id;
  }

  /**
   * As id(), for the handle held in `bytes` from `from` to `to` (a worker's WORK_* packet): no string is made
   * for a handle that is only looked up.
   */
  idIn(bytes: Uint8Array, from: number, to: number): number | undefined {
    const head = this.headBytes;
    const length = head.length;
    if (to - from <= length || to - from > length + 16) return undefined;
    for (let i = 0; i < length; i++) if (bytes[from + i] !== head[i]) return undefined;
    let id = 0;
    for (let i = from + length; i < to; i++) {
      const digit = bytes[i] - 48;
      if (digit < 0 || digit > 9 || (digit === 0 && i === from + length)) return undefined;
      id = id * 10 + digit;
    }
    return id;
  }
}
