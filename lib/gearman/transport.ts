/**
 * How a connection to a job server is opened: plain TCP, or TLS (gearmand
 * --ssl, or `glimpse-cluster job-server --tls-cert/--tls-key`).
 */
import net from "node:net";
import tls from "node:tls";
import type { Duplex } from "node:stream";
import type { ServerAddress } from "./address.js";

/**
 * A byte stream to a job server that the caller opened itself, e.g.
 * `JobServer.connectInProcess()`. It must emit "connect" once the server
 * listens to it, and behave as a socket otherwise (data, close, error, end).
 */
export type ServerStream = Duplex & { setKeepAlive?(enable: boolean, initialDelay: number): unknown };

/** Opens the stream to one server; undefined: connect over TCP (or TLS) as usual. */
export type StreamOpener = (address: ServerAddress) => ServerStream | undefined;

/**
 * TLS to the job servers: `ca` to trust (PEM; default: the system's), and a
 * client certificate (`cert`, `key`) for servers that require one. The server
 * certificate must name the host as given in the address (or set `servername`).
 */
export interface GearmanTlsOptions {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly servername?: string;
}

/** Opens a socket; `ready` is the event after which the server speaks (TCP connect, or the end of the TLS handshake). */
export function connectTo(
  address: ServerAddress,
  options: { tls?: GearmanTlsOptions; noDelay?: boolean },
): { socket: net.Socket; ready: "connect" | "secureConnect" } {
  if (!options.tls) {
    const where = address.path !== undefined ? { path: address.path } : { host: address.host, port: address.port };
    return { socket: net.connect({ ...where, noDelay: options.noDelay }), ready: "connect" };
  }
  const socket = tls.connect({
    ...(address.path !== undefined ? { path: address.path } : { host: address.host, port: address.port }),
    ca: options.tls.ca,
    cert: options.tls.cert,
    key: options.tls.key,
    // An IP address is checked against the certificate's IP SANs; SNI takes host names only.
    servername: options.tls.servername ?? (net.isIP(address.host) ? undefined : address.host),
  });
  if (options.noDelay) socket.setNoDelay(true);
  return { socket, ready: "secureConnect" };
}
