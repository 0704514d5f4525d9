/** Where a channel socket goes and how it gets there: bind or connect, with the cluster's CURVE keys when it has them. */
import type * as zmq from "zeromq";
import { applyCurve, type CurveSettings } from "../security/curve.js";

/** Where a channel socket goes: bind (it owns the address) or connect (to a broker or a binding peer). */
export interface Endpoint {
  readonly url: string;
  readonly bind: boolean;
  /** The cluster's CURVE keys: encrypt the channel and admit only peers holding them. None: plain TCP. */
  readonly curve?: CurveSettings;
}

/** ZeroMQ wants "*" for "pick a free port"; users and configs say 0. */
export function zmqUrl(url: string): string {
  return url.replace(/^(tcp:\/\/.+):0$/, "$1:*");
}

/**
 * A connection to a broker (or a binding peer) that goes silent, a cut link
 * or a hung host, closes no socket: TCP would keep it "connected" for many
 * minutes, and a connection attempt that meets silence would wait out the
 * kernel's SYN retries (about two minutes) before the next one. ZMTP
 * heartbeats, answered by libzmq's own I/O thread (so a busy event loop
 * does not miss them), drop a connection the peer has not answered for 5 s
 * (and ask the peer to drop ours after 5 s of silence); an attempt gets 3 s,
 * then ZeroMQ tries again, so a healed link is used again within seconds.
 */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TIMEOUT_MS = 5000;
const CONNECT_TIMEOUT_MS = 3000;

function keepAlive(socket: zmq.Socket): void {
  socket.heartbeatInterval = HEARTBEAT_MS;
  socket.heartbeatTimeout = HEARTBEAT_TIMEOUT_MS;
  socket.heartbeatTimeToLive = HEARTBEAT_TIMEOUT_MS;
  socket.connectTimeout = CONNECT_TIMEOUT_MS;
}

/** Binds or connects a socket; returns the endpoint in use (after a bind, with the port ZeroMQ chose). */
export async function attach(
  socket: zmq.Socket & {
    bind(url: string): Promise<void>;
    connect(url: string): void;
    readonly lastEndpoint: string | null;
  },
  endpoint: Endpoint,
): Promise<string> {
  if (endpoint.curve) applyCurve(socket, endpoint.curve, endpoint.bind ? "bind" : "connect");
  if (!endpoint.bind) {
    keepAlive(socket);
    socket.connect(endpoint.url);
    return endpoint.url;
  }
  await bindRetrying(socket, endpoint.url);
  return socket.lastEndpoint ?? endpoint.url;
}

/** How long a bind retries while its address is still held by a socket this process closed. */
const BIND_RETRY_MS = 2000;

/**
 * Binds, retrying for up to 2 s while the address is in use: ZeroMQ frees a closed socket's port a little
 * after close(), on its own I/O thread, so a pool, channel or broker started again at once on the same
 * address would otherwise fail with "Address already in use". Any other error, or the same one after 2 s,
 * is thrown as it came.
 */
export async function bindRetrying(socket: { bind(url: string): Promise<void> }, url: string): Promise<void> {
  const deadline = Date.now() + BIND_RETRY_MS;
  for (;;) {
    try {
      return await socket.bind(zmqUrl(url));
    } catch (error) {
      if ((error as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/**
 * Gives a bound address back before the socket closes, so that it is free the moment close() returns.
 *
 * Only for a socket with no receive or send pending (a publisher whose sends have settled): zeromq.js runs
 * unbind on a libuv worker thread, while the main thread polls a socket that has an operation pending, and a
 * ZeroMQ socket is not thread-safe. The two threads then process the socket's commands together, which
 * corrupts it and aborts the process (libzmq assertions in pipe.cpp, msg.cpp, object.cpp). A subscriber,
 * whose receive is always pending, closes without this; the next bind of its address waits for the port
 * (bindRetrying).
 */
export async function release(
  socket: zmq.Socket & { unbind(url: string): Promise<void> },
  endpoint: string,
  attached: Endpoint | undefined,
): Promise<void> {
  if (!attached?.bind || !endpoint) return;
  try {
    await socket.unbind(endpoint);
  } catch {
    // never bound, or already closed
  }
}
