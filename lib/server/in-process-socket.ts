/**
 * Two connected in-memory byte streams, for a client in the same process as
 * its JobServer (the local cluster's pool): what one side writes the other
 * reads, with no system call, no kernel copy and no event-loop turn between.
 * They behave as TCP sockets do for the Gearman code on both ends: backpressure
 * (a write completes once the other side has room), no half-open state (end
 * on one side ends both), destroy on one side closes the other.
 *
 *   client.write(buf) ──_write──► server.push(buf) ──'data'──► server's FrameDecoder
 *   server.write(buf) ──_write──► client.push(buf) ──'data'──► client's FrameDecoder
 *
 * Written buffers are handed over, not copied: writers must not reuse a
 * buffer after writing it (ours never do).
 */
import { Duplex } from "node:stream";
import { inProcessClosed } from "./errors.js";

export class InProcessSocket extends Duplex {
  /** Shown where a TCP peer shows its IP address (admin `workers`, logs). */
  readonly remoteAddress = "in-process";
  private other!: InProcessSocket;
  /** The other side's write, held until this side reads again. */
  private heldWrite: (() => void) | undefined;

  private constructor(readonly remotePort: number) {
    super({ allowHalfOpen: false });
  }

  private static pairs = 0;

  /** A connected pair, numbered in this process ("in-process:N" in addresses). */
  static pair(): [InProcessSocket, InProcessSocket] {
    const id = ++InProcessSocket.pairs;
    const a = new InProcessSocket(id);
    const b = new InProcessSocket(id);
    a.other = b;
    b.other = a;
    return [a, b];
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.other.destroyed) return done(inProcessClosed());
    if (this.other.push(chunk)) done();
    else this.other.heldWrite = () => done();
  }

  override _read(): void {
    const held = this.heldWrite;
    this.heldWrite = undefined;
    held?.();
  }

  override _final(done: (error?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.push(null);
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.destroy();
    done(error);
  }

  /** As net.Socket's; nothing to keep alive in memory. */
  setKeepAlive(): this {
    return this;
  }

  /** As net.Socket's; writes are never delayed. */
  setNoDelay(): this {
    return this;
  }
}
