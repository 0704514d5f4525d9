/**
 * Reading a plain TCP or Unix-socket connection into one buffer that every
 * such connection of the process shares, instead of Node's stream reads.
 *
 * A net.Socket's reads are each a fresh 64 KiB allocation, wrapped in a Buffer
 * and pushed through a Readable before the 'data' listener sees them. A socket
 * made with `onread` reads into a buffer it is given and calls back with the
 * byte count, nothing else; but net.Server makes its sockets without one. So a
 * connection is accepted paused and its handle moves, before anything was
 * read, to a socket made with `onread` over the same handle (the paused one
 * lets go of it first, so only the new socket ever closes it).
 *
 *   accept (paused) ──handle──► net.Socket({ onread: shared buffer })
 *     ──callback(n)──► onBytes(view of the first n bytes), valid during the call only
 *
 * One buffer serves every connection because each read is handed over
 * synchronously, before the event loop reads anything else; whoever keeps
 * bytes past the call copies them (FrameDecoder.pushBorrowed).
 */
import net from "node:net";

const READ_BYTES = 64 * 1024;
let shared: Buffer | undefined;

/** The one field of Node's accepted socket this takes: its handle (`_handle`, present on every net.Socket that is connected). */
interface HandleOwner {
  _handle: object | null;
}

/**
 * The connection `accepted` (accepted with pauseOnConnect, nothing read yet)
 * as a socket that reads into the shared buffer and calls `onBytes` with each
 * read; undefined, and `accepted` untouched, when it has no handle to move.
 */
export function readInPlace(accepted: net.Socket, onBytes: (bytes: Buffer) => void): net.Socket | undefined {
  const owner = accepted as unknown as HandleOwner;
  const handle = owner._handle;
  if (handle === null || typeof handle !== "object" || accepted.readableFlowing === true) return undefined;
  const buffer = (shared ??= Buffer.allocUnsafeSlow(READ_BYTES));
  owner._handle = null;
  // With no handle left this only settles the old socket (and the server's count of connections); the handle stays open.
  accepted.destroy();
  return new net.Socket({
    handle,
    onread: { buffer, callback: (bytes: number) => void onBytes(buffer.subarray(0, bytes)) },
  } as net.SocketConstructorOpts);
}
