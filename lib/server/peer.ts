/**
 * One connection to the server: a client, a worker, an admin session, or any
 * mix (the protocol lets one connection be all three).
 *
 * Output is appended to a per-connection arena and written once per tick
 * (one syscall for everything the server answered while handling one read).
 * Packet arguments are byte strings (latin1: one char per byte), so no
 * argument is ever re-encoded and no Buffer is made per packet; large
 * payloads are Buffers written where they lie, next to the arena's bytes in
 * one writev, so a megabyte job is never copied by the server.
 */
import type { Duplex } from "node:stream";
import type { Job } from "./job.js";
import type { Packet } from "../gearman/packet.js";

const RES_MAGIC = 0x00524553; // "\0RES"
const ARENA_START = 2048; // below Buffer.poolSize / 2: carved from the shared pool
/** Payloads this large are written from their own buffer (writev) rather than copied into the arena. */
export const SEGMENT_AT = 16 * 1024;

/** A packet argument: a byte string (latin1), or bytes. */
type Arg = string | Buffer;

function isSegment(value: Arg | undefined): boolean {
  return value !== undefined && typeof value !== "string" && value.length >= SEGMENT_AT;
}

/** A connection's byte stream: a net.Socket or tls.TLSSocket, or an InProcessSocket. */
export type PeerSocket = Duplex & {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setKeepAlive(enable: boolean, initialDelay: number): unknown;
};

/** What the server needs from a connection's owner. */
export interface PeerHost {
  /** Runs before any peer writes (the journal commits there, so JOB_CREATED never precedes it). */
  beforeFlush(): void;
  /** The peer has more unsent bytes than allowed. */
  tooSlow(peer: Peer): void;
  readonly writeLimit: number;
}

export class Peer {
  /** Shown as the first column of admin `workers`. */
  readonly id: number;
  /** "ip:port" of the other end, for logs and errors. */
  readonly address: string;
  clientId = "-";
  /** Sent OPTION_REQ "exceptions": gets WORK_EXCEPTION rather than WORK_FAIL. */
  exceptions = false;
  /** Functions this worker can do, with their CAN_DO_TIMEOUT in ms (0: none), in registration order. */
  readonly abilities = new Map<string, number>();
  /** Sent PRE_SLEEP and has not grabbed since. */
  sleeping = false;
  /** Was sent a NOOP and has not grabbed since. */
  woken = false;
  /** Jobs this worker holds now. */
  readonly held = new Set<Job>();
  /** Foreground jobs this client waits for. */
  readonly waiting = new Set<Job>();
  closed = false;
  private arena: Buffer | undefined;
  /** End of what is queued in the arena. */
  private used = 0;
  /** Start of the arena's bytes not yet cut into `segments`. */
  private start = 0;
  /** What this tick queued before the arena's uncut bytes: arena slices and payloads written where they are. */
  private segments: Buffer[] | undefined;

  constructor(
    id: number,
    readonly socket: PeerSocket,
    private readonly host: PeerHost,
  ) {
    this.id = id;
    this.address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
  }

  /**
   * Queues a response packet. Arguments are byte strings, or Buffers for
   * payloads (absent ones are left out); a payload of SEGMENT_AT bytes or
   * more is written from where it is, never copied into the arena.
   */
  packet(type: number, a?: Arg, b?: Arg, c?: Arg, d?: Arg, e?: Arg): void {
    if (this.closed) return;
    let size = 0;
    let count = 0;
    if (a !== undefined) (size += a.length), count++;
    if (b !== undefined) (size += b.length), count++;
    if (c !== undefined) (size += c.length), count++;
    if (d !== undefined) (size += d.length), count++;
    if (e !== undefined) (size += e.length), count++;
    if (count > 1) size += count - 1;
    const segment = isSegment(e) ? e! : isSegment(d) ? d! : isSegment(c) ? c! : undefined;
    this.header(type, size, size - (segment?.length ?? 0));
    if (a !== undefined) this.arg(a);
    if (b !== undefined) this.nul(), this.arg(b);
    if (c !== undefined) this.nul(), this.arg(c);
    if (d !== undefined) this.nul(), this.arg(d);
    if (e !== undefined) this.nul(), this.arg(e);
  }

  /**
   * Queues a request packet as the response of the same type with the same
   * body (WORK_* forwarding). A large one is the received packet itself,
   * its magic turned from REQ to RES in place, so it leaves as it came.
   */
  forward(packet: Packet): void {
    if (this.closed) return;
    const { type, body, frame } = packet;
    if (frame !== undefined && isSegment(body)) {
      frame.writeUInt32BE(RES_MAGIC, 0);
      this.reserve(0);
      return this.segment(frame);
    }
    this.header(type, body.length, body.length);
    this.arg(body);
  }

  /** Queues raw bytes (admin text replies, already-encoded packets). */
  send(bytes: Buffer | string): void {
    if (this.closed) return;
    const length = typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length;
    const out = this.reserve(length);
    if (typeof bytes === "string") out.write(bytes, this.used);
    else bytes.copy(out, this.used);
    this.used += length;
  }

  /** The 12-byte header of a packet of `size` bytes, with room in the arena for `inline` of them. */
  private header(type: number, size: number, inline: number): void {
    const out = this.reserve(12 + inline);
    const at = this.used;
    out.writeUInt32BE(RES_MAGIC, at);
    out.writeUInt32BE(type, at + 4);
    out.writeUInt32BE(size, at + 8);
    this.used = at + 12;
  }

  private nul(): void {
    this.arena![this.used++] = 0;
  }

  private arg(value: Arg): void {
    const arena = this.arena!;
    if (typeof value === "string") this.used += arena.write(value, this.used, "latin1");
    else if (!isSegment(value)) this.used += (value as Buffer).copy(arena, this.used);
    else this.segment(value as Buffer);
  }

  /** Queues bytes to be written from where they are, after what the arena holds so far. */
  private segment(bytes: Buffer): void {
    (this.segments ??= []).push(this.arena!.subarray(this.start, this.used), bytes);
    this.start = this.used;
  }

  private reserve(bytes: number): Buffer {
    let arena = this.arena;
    if (arena === undefined) {
      arena = this.arena = Buffer.allocUnsafe(Math.max(ARENA_START, bytes));
      this.used = 0;
      this.start = 0;
      process.nextTick(flushPeer, this);
    } else if (this.used + bytes > arena.length) {
      // Segments cut so far keep pointing into the old arena; only what follows them moves.
      const grown = Buffer.allocUnsafe(Math.max(arena.length * 2, this.used - this.start + bytes));
      arena.copy(grown, 0, this.start, this.used);
      this.used -= this.start;
      this.start = 0;
      arena = this.arena = grown;
    }
    return arena;
  }

  /** Writes what was queued this tick: one write, or one writev when payloads travel as segments. */
  flush(): void {
    const arena = this.arena;
    if (arena === undefined) return;
    const segments = this.segments;
    this.arena = undefined;
    this.segments = undefined;
    if (this.closed) return;
    const tail = arena.subarray(this.start, this.used);
    if (segments === undefined && tail.length === 0) return;
    this.host.beforeFlush();
    if (segments === undefined) this.socket.write(tail);
    else {
      this.socket.cork();
      for (const segment of segments) if (segment.length > 0) this.socket.write(segment);
      if (tail.length > 0) this.socket.write(tail);
      this.socket.uncork();
    }
    if (this.socket.writableLength > this.host.writeLimit) this.host.tooSlow(this);
  }

  /** Whether the peer is behind on reading what we sent. */
  get backedUp(): boolean {
    return this.socket.writableNeedDrain;
  }
}

function flushPeer(peer: Peer): void {
  peer.flush();
}
