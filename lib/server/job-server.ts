/**
 * The embedded Gearman job server: its connections. Scheduling is the
 * Scheduler's (scheduler.ts); this file listens, accepts (TCP, TLS, a Unix socket, or an
 * in-process socket), reads, pushes back on peers that do not read, and
 * drains and closes.
 *
 *   socket (read in place: in-place-reads.ts) ──FrameDecoder──► binary packet ──► dispatchRequest ──► Scheduler ──► Peer.packet (the session's Connection)
 *                 │                                                   └──► journal records (background jobs)
 *                 └──► text line ──► runAdminCommand ──► Peer.send
 *   read handled ──► Scheduler.commit: the journal records it made, written
 *   the read handled (the reading peer) / the loop turn's reads handled (the others)
 *     ──► each Peer's arena ──► one socket write
 *
 * Calls go down only: this file drives dispatch, the scheduler and the
 * peers; a peer calls nothing back (it counts bytes into Traffic and drops
 * its own connection when the other end stops reading).
 *
 * A peer that sends bytes that are not Gearman gets an ERROR packet and is
 * disconnected; nothing a peer sends can stop the server. A worker that
 * probes (ours do) and falls silent is dropped within seconds, its jobs
 * requeued (silent-peers.ts); any other silent peer by TCP keepalive.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import { statSync } from "node:fs";
import tls from "node:tls";
import os from "node:os";
import { FrameDecoder } from "../gearman/decoder.js";
import { encodeRaw, type Packet } from "../gearman/packet.js";
import { PacketType } from "../gearman/packet-types.js";
import { GearmanError } from "../gearman/errors.js";
import {
  fillCloseOptions,
  fillServerOptions,
  type CloseOptions,
  type FilledServerOptions,
  type JobServerOptions,
} from "./server-options.js";
import { Peer, readingFrom, Traffic, type PeerSocket } from "./peer.js";
import { InProcessSocket } from "./in-process-socket.js";
import { Scheduler } from "./scheduler.js";
import type { Session } from "./scheduler-state.js";
import { dispatchRequest } from "./dispatch.js";
import { runAdminCommand } from "./admin-commands.js";
import { PeerViolation } from "./errors.js";
import type { FunctionFigures } from "./scheduler-views.js";
import { SilentPeers } from "./silent-peers.js";
import { readInPlace } from "./in-place-reads.js";
import { handleWriter } from "./handle-writes.js";
import { BYTES_PAYLOAD_AT } from "./payload.js";

/** TCP keepalive on every connection: a silent peer that does not probe is dropped after this plus 10 unanswered probes a second apart. */
const KEEPALIVE_MS = 5000;

export interface ServerAddressInfo {
  readonly host: string;
  /** 0 on a Unix socket. */
  readonly port: number;
  /** The Unix socket's path, when the server listens on one. */
  readonly path?: string;
}

/** What the server has done and holds, for metrics: read at scrape time, nothing is kept for it. */
export interface JobServerStats {
  /** Every function known, with its queues (the admin `status` view) and its job counts since start. */
  readonly functions: readonly FunctionFigures[];
  /** Connections open now (clients, workers and admin sessions). */
  readonly connections: number;
  /** Bytes read from and written to connections since start. */
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** The journal file and its size in bytes, when the server keeps one (queueFile). */
  readonly journal: { readonly path: string; readonly bytes: number } | undefined;
}

export type { CloseOptions } from "./server-options.js";

/** Emits "shutdown" after an admin `shutdown` command closed it. */
export class JobServer extends EventEmitter {
  readonly options: FilledServerOptions;
  private readonly scheduler: Scheduler;
  private readonly server: net.Server;
  private readonly peers = new Set<Peer>();
  private readonly silentPeers = new SilentPeers();
  private listening: ServerAddressInfo | undefined;
  private closing: Promise<void> | undefined;
  private readonly traffic = new Traffic();
  /** Set during a graceful close's wait: ends it early. */
  private cutDrain: (() => void) | undefined;

  constructor(options: JobServerOptions = {}) {
    super();
    this.options = fillServerOptions(options, os.hostname());
    this.scheduler = new Scheduler(this.options);
    const secure = this.options.tls;
    this.server = secure
      ? tls.createServer(
          {
            cert: secure.cert,
            key: secure.key,
            ca: secure.ca,
            requestCert: secure.ca !== undefined,
            rejectUnauthorized: secure.ca !== undefined,
          },
          (socket) => this.accept(socket),
        )
      : net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    if (secure) {
      this.server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) =>
        this.options.log(
          `refused a TLS connection from ${socket.remoteAddress}:${socket.remotePort}: ${error.message}`,
        ),
      );
    }
  }

  /** Where the server listens (after listen()). */
  get address(): ServerAddressInfo | undefined {
    return this.listening;
  }

  /** Replays the journal (if any), then listens. Resolves with the actual host and port. */
  async listen(): Promise<ServerAddressInfo> {
    if (this.options.queueFile) {
      const replayed = this.scheduler.useJournal(this.options.queueFile, this.options.queueFsync);
      if (replayed > 0) this.options.log(`replayed ${replayed} background jobs from ${this.options.queueFile}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      const listening = () => {
        this.server.off("error", reject);
        resolve();
      };
      if (this.options.path !== undefined) this.server.listen(this.options.path, listening);
      else this.server.listen(this.options.port, this.options.host, listening);
    });
    if (this.options.path !== undefined) {
      this.listening = Object.freeze({ host: "localhost", port: 0, path: this.options.path });
    } else {
      const { address, port } = this.server.address() as net.AddressInfo;
      this.listening = Object.freeze({ host: address, port });
    }
    return this.listening;
  }

  /**
   * A connection from this process that skips the network: the client's end
   * of an InProcessSocket pair whose other end this server serves like any
   * TCP connection (GearmanClient's `open` option takes it). Listening is
   * not needed for it.
   */
  connectInProcess(): InProcessSocket {
    const [client, server] = InProcessSocket.pair();
    process.nextTick(() => {
      this.accept(server);
      if (!client.destroyed) client.emit("connect");
    });
    return client;
  }

  private accept(accepted: PeerSocket): void {
    let onRead: (bytes: Buffer, borrowed: boolean) => void = () => {};
    // Plain TCP and Unix sockets (accepted paused) read in place; TLS and in-process ones stay streams.
    const inPlace =
      accepted instanceof net.Socket && !(accepted instanceof tls.TLSSocket)
        ? readInPlace(accepted, (bytes) => onRead(bytes, true))
        : undefined;
    const socket: PeerSocket = inPlace ?? accepted;
    socket.on("error", () => {});
    if (this.closing) return void socket.destroy();
    if (this.peers.size >= this.options.maxConnections) {
      this.options.log(
        `refusing ${socket.remoteAddress}:${socket.remotePort}: ${this.options.maxConnections} connections already`,
      );
      socket.end(
        encodeRaw("RES", PacketType.ERROR, [
          "TOO_MANY_CONNECTIONS",
          `the server allows ${this.options.maxConnections} connections`,
        ]),
      );
      // Read (and drop) what it sends, so its close is seen.
      socket.resume();
      return;
    }
    const writer = inPlace !== undefined ? handleWriter(inPlace) : undefined;
    const peer = new Peer(socket, this.options, this.traffic, inPlace !== undefined, writer);
    const session = this.scheduler.open(peer);
    // TCP keepalive giving up on a silent peer, a reset from one that died: the connection ends with its jobs requeued.
    socket.on("error", (error: Error) => {
      if (!peer.closed)
        this.options.log(`connection of ${session.clientId} at ${peer.address} failed: ${error.message}`);
    });
    this.peers.add(peer);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    const scheduler = this.scheduler;
    const traffic = this.traffic;
    const silentPeers = this.silentPeers;
    const highWater = this.options.writeHighWater;
    const decoder = new FrameDecoder({
      expect: "REQ",
      maxPacketSize: this.options.maxPacketSize,
      peer: peer.address,
      onPacket: (packet: Packet) => {
        if (packet.type === PacketType.ECHO_REQ) silentPeers.echo(peer, session, packet.body);
        if (!peer.closed) dispatchRequest(scheduler, session, packet);
      },
      onText: (line) => this.admin(peer, line),
    });
    onRead = (chunk: Buffer, borrowed: boolean) => {
      traffic.received += chunk.length;
      silentPeers.heard(peer);
      readingFrom(peer, borrowed);
      try {
        if (borrowed) decoder.pushBorrowed(chunk, BYTES_PAYLOAD_AT);
        else decoder.push(chunk);
      } catch (error) {
        readingFrom(undefined);
        return this.refuse(peer, error);
      }
      readingFrom(undefined);
      // Before any reply to this read leaves (now, next tick, or after this turn's reads): JOB_CREATED never precedes its record.
      scheduler.commit();
      if (borrowed) peer.flush();
      // A peer that does not read our replies stops being read (it cannot make us buffer without bound);
      // "drain" comes once the socket's own buffer empties, so below that buffer's size the limit is that size.
      if (peer.unsent > highWater && peer.needsDrain && !peer.closed && !socket.isPaused()) {
        socket.pause();
        peer.whenDrained(() => socket.resume());
      }
    };
    if (inPlace === undefined) {
      socket.on("data", (chunk: Buffer) => onRead(chunk, false));
      if (socket.readableFlowing === false) socket.resume();
    }
    socket.once("close", () => this.disconnect(peer, session));
  }

  /** Answers an admin line; after `shutdown`, closes once the OK has left. */
  private admin(peer: Peer, line: string): void {
    const reply = runAdminCommand(this.scheduler, line);
    peer.send(reply.text);
    const shutdown = reply.shutdown;
    if (shutdown !== undefined) setImmediate(() => void this.close(shutdown).then(() => this.emit("shutdown")));
  }

  /** Answers a protocol violation with an ERROR packet and closes that connection. */
  private refuse(peer: Peer, error: unknown): void {
    if (peer.closed) return;
    const code =
      error instanceof PeerViolation
        ? error.code
        : error instanceof GearmanError && error.code === "PACKET_TOO_LARGE"
          ? "PACKET_TOO_LARGE"
          : "PROTOCOL_ERROR";
    const message = error instanceof Error ? error.message : String(error);
    this.options.log(`closing ${peer.address}: ${message}`);
    peer.packet(PacketType.ERROR, code, Buffer.from(message).toString("latin1"));
    this.scheduler.commit();
    peer.flush();
    peer.closed = true;
    peer.socket.end();
    setTimeout(() => peer.socket.destroy(), 1000).unref();
  }

  /** A snapshot of the server's figures (the metrics read it at each scrape). */
  stats(): JobServerStats {
    const path = this.options.queueFile;
    let journal: JobServerStats["journal"];
    if (path !== undefined) {
      let bytes = 0;
      try {
        bytes = statSync(path).size;
      } catch {
        // Not written yet.
      }
      journal = { path, bytes };
    }
    return {
      functions: [...this.scheduler.figures()],
      connections: this.peers.size,
      bytesReceived: this.traffic.received,
      bytesSent: this.traffic.sent,
      journal,
    };
  }

  private disconnect(peer: Peer, session: Session): void {
    peer.closed = true;
    this.peers.delete(peer);
    this.silentPeers.forget(peer);
    this.scheduler.leave(session);
  }

  /**
   * Stops the server. Graceful: stop accepting and stop handing out jobs,
   * let workers finish the jobs they hold (up to `graceMs`), then close
   * every connection. Otherwise close every connection at once. The journal
   * keeps every unfinished background job. A non-graceful call during a
   * graceful close cuts the wait short.
   */
  close(input: CloseOptions = {}): Promise<void> {
    let options: ReturnType<typeof fillCloseOptions>;
    try {
      options = fillCloseOptions(input);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (!options.graceful) this.cutDrain?.();
    this.closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      if (options.graceful) {
        const drained = this.scheduler.drain();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.graceMs);
          this.cutDrain = () => {
            clearTimeout(timer);
            resolve();
          };
          void drained.then(this.cutDrain);
        });
        this.cutDrain = undefined;
        // Let the last results reach their clients.
        await new Promise((resolve) => setImmediate(resolve));
      }
      this.scheduler.commit();
      for (const peer of this.peers) {
        peer.flush();
        peer.socket.destroy();
      }
      await serverClosed;
      this.silentPeers.clear();
      this.scheduler.stop();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
