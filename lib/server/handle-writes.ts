/**
 * Writes to a connection read in place (in-place-reads.ts) go straight to the
 * socket's handle, below net.Socket's Writable.
 *
 * A Writable write runs `write` → `writeOrBuffer` → `_write` → `writeGeneric`
 * and defers its completion to a next-tick `afterWrite`, per write; the handle
 * underneath takes the same bytes in one call (`writeBuffer`, or `writev` for
 * several buffers), trying the system call at once and queueing in libuv only
 * what the kernel did not take. That is what this does, and nothing more:
 *
 *   Peer.flush ──► handle.writeBuffer / writev(request, bytes)
 *     all taken at once: done (the bytes may be reused)
 *     some left: libuv writes them in order; request.oncomplete ──► queued bytes fall; at 0, `drained`
 *
 * This leans on Node internals no public API offers: the `stream_wrap`
 * binding's WriteWrap (the request object the handle fills) and its
 * streamBaseState (whether the last write went asynchronous), reached through
 * the deprecated `process.binding`, and the handle's `writeBuffer`, `writev`
 * and `writeQueueSize`. Where any of them is missing (another Node version),
 * `handleWriter` returns undefined and the peer writes through the socket's
 * Writable as before; so it does under `--pending-deprecation`, where calling
 * `process.binding` would print a warning. With this path the Writable is
 * never written to, so the two never interleave; `end()` still goes through
 * it, and its shutdown waits in libuv behind any bytes queued here.
 */
import net from "node:net";
import { getSystemErrorName } from "node:util";

/** What is used of the `stream_wrap` binding. */
export interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kLastWriteWasAsync: number;
}

/** A write request as the handle fills it; `oncomplete` runs when an asynchronous write is done. */
interface WriteRequest {
  oncomplete: (status: number) => void;
  /** Keeps the bytes of an asynchronous write alive until it completes (libuv reads them from where they are). */
  bytes: Buffer | Buffer[] | undefined;
}

/** What is used of a connected TCP or pipe handle (LibuvStreamWrap). */
interface StreamHandle {
  writeBuffer(request: WriteRequest, bytes: Buffer): number;
  writev(request: WriteRequest, chunks: Buffer[], allBuffers: boolean): number;
  readonly writeQueueSize: number;
}

/** Whether Node was asked to warn of pending deprecations, process.binding among them: then it is not called. */
function warnsOfBinding(): boolean {
  const flag = "--pending-deprecation";
  return (
    process.execArgv.includes(flag) ||
    (process.env.NODE_OPTIONS ?? "").includes(flag) ||
    process.env.NODE_PENDING_DEPRECATION === "1"
  );
}

const binding: StreamWrapBinding | null = (() => {
  if (warnsOfBinding()) return null;
  try {
    const found = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding("stream_wrap");
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = found;
    if (typeof WriteWrap !== "function" || !(streamBaseState instanceof Int32Array)) return null;
    if (typeof kLastWriteWasAsync !== "number") return null;
    return { WriteWrap, streamBaseState, kLastWriteWasAsync };
  } catch {
    // process.binding gone or the binding not allowed: the stream path it is.
    return null;
  }
})();

export class HandleWriter {
  /** Set when the last write was taken whole by the kernel at once: nothing refers to its bytes. */
  tookAll = true;
  /** Called once the bytes queued in libuv are all written (after a write that went asynchronous). */
  drained: (() => void) | undefined;
  /** A request for the next write; one that went asynchronous is libuv's until it completes, so a fresh one follows. */
  private request: WriteRequest;
  private readonly complete = (status: number): void => {
    if (status < 0) return this.failed(status);
    if (this.handle.writeQueueSize === 0) this.drained?.();
  };

  constructor(
    private readonly socket: net.Socket,
    private readonly handle: StreamHandle,
    private readonly state: StreamWrapBinding,
  ) {
    this.request = this.fresh();
  }

  /** Bytes written that the kernel has not taken yet. */
  get queued(): number {
    return this.handle.writeQueueSize;
  }

  write(bytes: Buffer): void {
    const request = this.request;
    this.after(request, this.handle.writeBuffer(request, bytes), bytes);
  }

  writev(chunks: Buffer[]): void {
    const request = this.request;
    this.after(request, this.handle.writev(request, chunks, true), chunks);
  }

  private after(request: WriteRequest, error: number, bytes: Buffer | Buffer[]): void {
    if (error !== 0) return this.failed(error);
    const state = this.state;
    this.tookAll = state.streamBaseState[state.kLastWriteWasAsync] === 0;
    if (this.tookAll) return;
    request.bytes = bytes;
    this.request = this.fresh();
  }

  private fresh(): WriteRequest {
    const request = new this.state.WriteWrap();
    request.oncomplete = this.complete;
    request.bytes = undefined;
    return request;
  }

  /** A write failed (EPIPE, ECONNRESET, or cancelled by the close): the socket closes, and its 'close' ends the session. */
  private failed(status: number): void {
    if (this.socket.destroyed) return;
    const name = getSystemErrorName(status);
    this.socket.destroy(Object.assign(new Error(`write ${name}`), { code: name, errno: status, syscall: "write" }));
  }
}

/**
 * A writer straight to `socket`'s handle, or undefined when this Node offers
 * no such path (`internals` null: see above) or the socket has no
 * handle: then write through the socket.
 */
export function handleWriter(
  socket: net.Socket,
  internals: StreamWrapBinding | null = binding,
): HandleWriter | undefined {
  if (internals === null) return undefined;
  const handle = (socket as unknown as { _handle: Partial<StreamHandle> | null })._handle;
  if (handle === null || typeof handle !== "object") return undefined;
  if (typeof handle.writeBuffer !== "function" || typeof handle.writev !== "function") return undefined;
  if (typeof handle.writeQueueSize !== "number") return undefined;
  return new HandleWriter(socket, handle as StreamHandle, internals);
}
