/**
 * Job handles, `H:<prefix>:<n>` as gearmand makes them, derived from a job's
 * number so that no job stores its handle. The prefix is a byte string
 * (latin1) of at most 40 bytes, so a handle stays within gearmand's 64.
 */
export class JobHandles {
  private readonly head: string;

  constructor(prefix: string) {
    this.head = `H:${Buffer.from(prefix).toString("latin1")}:`;
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
}
