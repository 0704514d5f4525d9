/**
 * One connection to the server: a client, a worker, an admin session, or any
 * mix (the protocol lets one connection be all three).
 *
 * Output is appended to a per-connection arena and written once per tick
 * (one syscall for everything the server answered while handling one read).
 * Packet arguments are byte strings (latin1: one char per byte), so no
 * argument is ever re-encoded and no Buffer is made per packet.
 */
import type { Duplex } from "node:stream";
import type { Job } from "./job.js";

const RES_MAGIC = 0x00524553; // "\0RES"
const ARENA_START = 2048; // below Buffer.poolSize / 2: carved from the shared pool

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
  private used = 0;

  constructor(
    id: number,
    readonly socket: PeerSocket,
    private readonly host: PeerHost,
  ) {
    this.id = id;
    this.address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
  }

  /** Queues a response packet whose arguments are byte strings (absent ones are left out). */
  packet(type: number, a?: string, b?: string, c?: string, d?: string, e?: string): void {
    if (this.closed) return;
    let size = 0;
    let count = 0;
    if (a !== undefined) (size += a.length), count++;
    if (b !== undefined) (size += b.length), count++;
    if (c !== undefined) (size += c.length), count++;
    if (d !== undefined) (size += d.length), count++;
    if (e !== undefined) (size += e.length), count++;
    if (count > 1) size += count - 1;
    const out = this.reserve(12 + size);
    let at = this.used;
    out.writeUInt32BE(RES_MAGIC, at);
    out.writeUInt32BE(type, at + 4);
    out.writeUInt32BE(size, at + 8);
    at += 12;
    if (a !== undefined) at += out.write(a, at, "latin1");
    if (b !== undefined) (out[at++] = 0), (at += out.write(b, at, "latin1"));
    if (c !== undefined) (out[at++] = 0), (at += out.write(c, at, "latin1"));
    if (d !== undefined) (out[at++] = 0), (at += out.write(d, at, "latin1"));
    if (e !== undefined) (out[at++] = 0), (at += out.write(e, at, "latin1"));
    this.used = at;
  }

  /** Queues a response packet with the body of a request, unchanged (WORK_* forwarding). */
  forward(type: number, body: Buffer): void {
    if (this.closed) return;
    const out = this.reserve(12 + body.length);
    const at = this.used;
    out.writeUInt32BE(RES_MAGIC, at);
    out.writeUInt32BE(type, at + 4);
    out.writeUInt32BE(body.length, at + 8);
    body.copy(out, at + 12);
    this.used = at + 12 + body.length;
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

  private reserve(bytes: number): Buffer {
    let arena = this.arena;
    if (arena === undefined) {
      arena = this.arena = Buffer.allocUnsafe(Math.max(ARENA_START, bytes));
      this.used = 0;
      process.nextTick(flushPeer, this);
    } else if (this.used + bytes > arena.length) {
      const grown = Buffer.allocUnsafe(Math.max(arena.length * 2, this.used + bytes));
      arena.copy(grown, 0, 0, this.used);
      arena = this.arena = grown;
    }
    return arena;
  }

  /** Writes what was queued this tick. */
  flush(): void {
    const arena = this.arena;
    if (arena === undefined) return;
    this.arena = undefined;
    if (this.closed || this.used === 0) return;
    this.host.beforeFlush();
    this.socket.write(this.used === arena.length ? arena : arena.subarray(0, this.used));
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
