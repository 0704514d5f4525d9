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
  await socket.bind(zmqUrl(endpoint.url));
  return socket.lastEndpoint ?? endpoint.url;
}

/**
 * Gives a bound address back before the socket closes: close() alone frees the port later, on ZeroMQ's I/O
 * thread, and whoever binds it next (a pool started again, a test) would fail with "Address already in use".
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
