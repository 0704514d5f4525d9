/**
 * A job held by the server, from submission until a terminal packet, its
 * cancellation or its drop. Kept small: a million queued background jobs are
 * a million of these. Function name and unique id are byte strings (latin1),
 * and so is a small payload; a large payload stays the bytes it arrived as
 * (written out again without a copy). The handle is derived from the
 * numeric id, and the rarely used state lives in `extra`.
 */
import type { FunctionQueue } from "./function-queue.js";
import type { Peer } from "./peer.js";

/** Payloads from this size on are kept as bytes, not as a byte string. */
export const BYTES_PAYLOAD_AT = 4096;

/** A job's payload: a byte string (latin1, one char per byte) when small, else its bytes. */
export type Payload = string | Buffer;

/**
 * The payload at `body[from..]` of a received packet. A large one is kept as
 * a view when it fills most of the buffer it arrived in (so nothing is
 * copied), else copied out (so a small view never pins a large read buffer).
 */
export function payloadOf(body: Buffer, from: number): Payload {
  const length = body.length - from;
  if (length < BYTES_PAYLOAD_AT) return body.toString("latin1", from);
  const view = body.subarray(from);
  return length * 2 >= view.buffer.byteLength ? view : Buffer.from(view);
}

/** The payload as a byte string (journal records, `-` uniques). */
export function payloadString(data: Payload): string {
  return typeof data === "string" ? data : data.toString("latin1");
}

export const enum Priority {
  High = 0,
  Normal = 1,
  Low = 2,
}

/** State most jobs never need. */
export interface JobExtra {
  /** Last WORK_STATUS, for GET_STATUS. */
  numerator: string;
  denominator: string;
  /** SUBMIT_JOB_EPOCH time, seconds since 1970 (0: none). */
  epoch: number;
  /** SUBMIT_REDUCE_JOB reducer ("" for none). */
  reducer: string;
  /** Set while the job waits for its epoch. */
  epochTimer: NodeJS.Timeout | undefined;
  /** Set while a worker that registered with CAN_DO_TIMEOUT holds it. */
  workTimer: NodeJS.Timeout | undefined;
}

export class Job {
  /** Clients waiting for this job's result; undefined while there are none. */
  clients: Peer[] | undefined = undefined;
  worker: Peer | undefined = undefined;
  /** Times a worker lost it (disconnect or CAN_DO_TIMEOUT). */
  retries = 0;
  /** False once finished, cancelled or dropped: late packets about it are refused. */
  live = true;
  extra: JobExtra | undefined = undefined;

  constructor(
    readonly id: number,
    readonly queue: FunctionQueue,
    /** As sent by the client ("-" stays "-"). */
    readonly unique: string,
    readonly data: Payload,
    readonly priority: Priority,
    readonly background: boolean,
  ) {}

  get epoch(): number {
    return this.extra?.epoch ?? 0;
  }

  get reducer(): string {
    return this.extra?.reducer ?? "";
  }

  /** The job's extra state, created on first use. */
  more(): JobExtra {
    return (this.extra ??= { numerator: "0", denominator: "0", epoch: 0, reducer: "", epochTimer: undefined, workTimer: undefined });
  }

  addClient(peer: Peer): void {
    if (this.clients === undefined) this.clients = [peer];
    else if (!this.clients.includes(peer)) this.clients.push(peer);
    peer.waiting.add(this);
  }

  removeClient(peer: Peer): void {
    const clients = this.clients;
    if (clients === undefined) return;
    const at = clients.indexOf(peer);
    if (at >= 0) clients.splice(at, 1);
    if (clients.length === 0) this.clients = undefined;
  }

  /** A foreground job nobody waits for any more (admin `show jobs` calls it ignored). */
  get abandoned(): boolean {
    return !this.background && this.clients === undefined;
  }
}

/** The unique-index key: a unique of "-" means "the payload is the unique", in a space of its own (as gearmand). */
export function uniqueKey(unique: string, data: Payload): string {
  return unique === "-" ? `\0${payloadString(data)}` : unique;
}
