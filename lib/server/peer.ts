/**
 * One connection's bytes out: what the scheduler and the admin commands
 * answer it, batched. A peer calls nothing above it: it counts the bytes it
 * writes into the server's Traffic, and drops its own connection when the
 * other end stops reading (or when told to: a silent peer, silent-peers.ts).
 *
 * Output is appended to a per-connection arena and written in one syscall
 * (straight to the socket's handle where Node allows it: handle-writes.ts):
 * a reply to the connection whose read the server is handling leaves once
 * that read is handled (at once for a socket read in place, else at the end
 * of the tick); what that read sends to other connections (a
 * result to its client, a job to a sleeping worker) waits until the event
 * loop has handled every read of its turn, so a client with many jobs out
 * gets their results in one write and wakes once for them, not once each.
 * Packet arguments are byte strings (latin1: one char per byte), so no
 * argument is ever re-encoded and no Buffer is made per packet; large
 * payloads are Buffers written where they lie, next to the arena's bytes in
 * one writev, so a megabyte job is never copied by the server.
 */
import type { Duplex } from "node:stream";
import type { Packet } from "../gearman/packet.js";
import { handOver } from "../gearman/payload.js";
import { LARGE_PAYLOAD_BYTES } from "../bytes.js";
import type { Connection, PacketArg } from "./connection.js";
import type { HandleWriter } from "./handle-writes.js";

const RES_MAGIC = 0x00524553; // "\0RES"
const ARENA_START = 2048; // below Buffer.poolSize / 2: carved from the shared pool
/** Byte strings up to this length are copied into the arena in JavaScript. */
const SHORT_STRING = 64;

function isSegment(value: PacketArg | undefined): boolean {
  return value !== undefined && typeof value !== "string" && value.length >= LARGE_PAYLOAD_BYTES;
}

/** A connection's byte stream: a net.Socket or tls.TLSSocket, or an InProcessSocket. */
export type PeerSocket = Duplex & {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setKeepAlive(enable: boolean, initialDelay: number): unknown;
};

/** Bytes read from and written to a server's connections since it started (the metrics read them at each scrape). */
export class Traffic {
  received = 0;
  sent = 0;
}

/** What a peer is told by the server that owns it (FilledServerOptions is one). */
export interface PeerLimits {
  /** Unsent bytes past which the peer is dropped: it does not read what the server sends. */
  readonly writeLimit: number;
  /** Where that drop is logged. */
  readonly log: (line: string) => void;
}

export class Peer implements Connection {
  /** "ip:port" of the other end, for logs and errors. */
  readonly address: string;
  /** Set once the server stops talking to it (refused, too slow, or gone): packets are dropped. */
  closed = false;
  private arena: Buffer | undefined;
  /** End of what is queued in the arena. */
  private used = 0;
  /** Start of the arena's bytes not yet cut into `segments`. */
  private start = 0;
  /** What this tick queued before the arena's uncut bytes: arena slices and payloads written where they are. */
  private segments: Buffer[] | undefined;
  /** The last arena, when the socket wrote it through at once and kept no reference to it. */
  private spare: Buffer | undefined;

  /**
   * `reuseArena`: the socket copies what it writes at once or keeps the Buffer while queued (net.Socket), so
   * an arena is free again once nothing is queued; not for an in-process socket, which hands written Buffers over.
   * `writer`: writes go straight to the socket's handle (handle-writes.ts), never through the socket's Writable.
   */
  constructor(
    readonly socket: PeerSocket,
    private readonly limits: PeerLimits,
    private readonly traffic: Traffic,
    private readonly reuseArena = false,
    private readonly writer?: HandleWriter,
  ) {
    // A Unix socket peer has no address: "local" (gearmand's admin `workers` shows the part before the colon).
    this.address =
      socket.remoteAddress === undefined ? "local:-" : `${socket.remoteAddress}:${socket.remotePort ?? "?"}`;
  }

  /**
   * Queues a response packet. Arguments are byte strings, or Buffers for
   * payloads (absent ones are left out); a payload of LARGE_PAYLOAD_BYTES or
   * more is written from where it is, never copied into the arena.
   */
  packet(type: number, a?: PacketArg, b?: PacketArg, c?: PacketArg, d?: PacketArg, e?: PacketArg, f?: PacketArg): void {
    if (this.closed) return;
    let size = 0;
    let count = 0;
    if (a !== undefined) {
      size += a.length;
      count++;
    }
    if (b !== undefined) {
      size += b.length;
      count++;
    }
    if (c !== undefined) {
      size += c.length;
      count++;
    }
    if (d !== undefined) {
      size += d.length;
      count++;
    }
    if (e !== undefined) {
      size += e.length;
      count++;
    }
    if (f !== undefined) {
      size += f.length;
      count++;
    }
    if (count > 1) size += count - 1;
    const segment = isSegment(e) ? e! : isSegment(d) ? d! : isSegment(c) ? c! : undefined;
    this.header(type, size, size - (segment?.length ?? 0));
    if (a !== undefined) this.arg(a);
    if (b !== undefined) {
      this.nul();
      this.arg(b);
    }
    if (c !== undefined) {
      this.nul();
      this.arg(c);
    }
    if (d !== undefined) {
      this.nul();
      this.arg(d);
    }
    if (e !== undefined) {
      this.nul();
      this.arg(e);
    }
    if (f !== undefined) {
      this.nul();
      this.arg(f);
    }
  }

  /**
   * Queues a request packet as the response of the same type with the same
   * body (WORK_* forwarding). A large one is the received packet itself,
   * its magic turned from REQ to RES in place, so it leaves as it came.
   */
  forward(packet: Packet, only = false): void {
    if (this.closed) return;
    const { type, body } = packet;
    const frame = isSegment(body) ? packet.frame : undefined;
    if (frame !== undefined) {
      frame.writeUInt32BE(RES_MAGIC, 0);
      this.reserve(0);
      // The frame is the server's own (assembled, or a fresh socket read) and goes nowhere else: the reader may keep it.
      return this.segment(only && packet.exclusive ? handOver(frame) : frame);
    }
    this.header(type, body.length, body.length);
    this.arg(body);
  }

  /** Queues raw bytes, or a byte string (latin1: admin text replies). */
  send(bytes: Buffer | string): void {
    if (this.closed || bytes.length === 0) return;
    const length = bytes.length;
    const out = this.reserve(length);
    if (typeof bytes === "string") out.write(bytes, this.used, "latin1");
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

  private arg(value: PacketArg): void {
    const arena = this.arena!;
    if (typeof value === "string") {
      const length = value.length;
      if (length > SHORT_STRING) this.used += arena.write(value, this.used, "latin1");
      else {
        // Names, handles and small payloads: cheaper byte by byte than a call into C++.
        let at = this.used;
        for (let i = 0; i < length; i++) arena[at++] = value.charCodeAt(i);
        this.used = at;
      }
    } else if (!isSegment(value)) this.used += (value as Buffer).copy(arena, this.used);
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
      const spare = this.spare;
      this.spare = undefined;
      arena = this.arena =
        spare !== undefined && spare.length >= bytes ? spare : Buffer.allocUnsafe(Math.max(ARENA_START, bytes));
      this.used = 0;
      this.start = 0;
      if (this !== reading) flushLater(this);
      else if (!readerFlushes) process.nextTick(flushPeer, this);
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
    let bytes = tail.length;
    const writer = this.writer;
    if (writer !== undefined) {
      if (segments === undefined) writer.write(tail);
      else {
        const chunks = segments.filter((segment) => segment.length > 0);
        for (const chunk of chunks) bytes += chunk.length;
        if (tail.length > 0) chunks.push(tail);
        writer.writev(chunks);
      }
      // Taken whole by the kernel at once: the arena is free again.
      if (segments === undefined && writer.tookAll) this.spare = arena;
    } else if (segments === undefined) {
      this.socket.write(tail);
      // Written through at once (nothing left queued on the socket): the arena is free again.
      if (this.reuseArena && this.socket.writableLength === 0) this.spare = arena;
    } else {
      this.socket.cork();
      for (const segment of segments) {
        if (segment.length === 0) continue;
        bytes += segment.length;
        this.socket.write(segment);
      }
      if (tail.length > 0) this.socket.write(tail);
      this.socket.uncork();
    }
    this.traffic.sent += bytes;
    if (this.unsent > this.limits.writeLimit) this.tooSlow();
  }

  /** The other end does not read what the server sends: stop talking to it. */
  private tooSlow(): void {
    this.drop(`it does not read what the server sends (over ${this.limits.writeLimit} bytes waiting)`);
  }

  /** Closes the connection at once, logging `why`; its session leaves the scheduler when the socket closes. */
  drop(why: string): void {
    if (this.closed) return;
    this.limits.log(`dropping ${this.address}: ${why}`);
    this.closed = true;
    this.socket.destroy();
  }

  /** Bytes written to the socket that the peer has not taken yet. */
  get unsent(): number {
    return this.writer !== undefined ? this.writer.queued : this.socket.writableLength;
  }

  /** Whether the socket holds so much unsent that it asks to be waited for ("drain"). */
  get needsDrain(): boolean {
    return this.writer !== undefined ? this.writer.queued > 0 : this.socket.writableNeedDrain;
  }

  /** Calls `then` once the socket has written everything queued (after needsDrain). */
  whenDrained(then: () => void): void {
    const writer = this.writer;
    if (writer === undefined) return void this.socket.once("drain", then);
    writer.drained = () => {
      writer.drained = undefined;
      then();
    };
  }
}

function flushPeer(peer: Peer): void {
  peer.flush();
}

/** The peer whose read the server is handling (set by the server at each read). */
let reading: Peer | undefined;
/** Whether the server flushes that peer itself once the read is handled. */
let readerFlushes = false;

/**
 * Marks `peer` as the one whose read is being handled: what is queued for it now leaves at the end of this
 * tick, or when the server flushes it after the read (`flushesAfter`: a read straight from the event loop,
 * which nothing else is inside of).
 */
export function readingFrom(peer: Peer | undefined, flushesAfter = false): void {
  reading = peer;
  readerFlushes = flushesAfter;
}

/** Peers written to by reads of other peers this turn, flushed once the turn's reads are handled. */
const later: Peer[] = [];

function flushLater(peer: Peer): void {
  if (later.push(peer) === 1) setImmediate(flushAllLater);
}

function flushAllLater(): void {
  // A flush can make an in-process client write again at once, queueing more peers here: they go in this pass.
  for (let i = 0; i < later.length; i++) later[i].flush();
  later.length = 0;
}
