/**
 * One TCP connection from a client or worker to one job server: frames the
 * byte stream into packets, batches writes made in the same tick (or, with
 * gatherWrites, the same event-loop turn) into one syscall, probes a server
 * that falls silent, and reconnects with exponential backoff (capped at 2 s)
 * until closed.
 *
 *   send(buf) ──► pending[] ──(nextTick, or setImmediate when gathering)──► socket.cork/write/uncork
 *   socket 'data' ──► FrameDecoder ──► onPacket(packet)        (the reply to our own probe stops here)
 *   nothing heard for 2 s ──► onQuiet(true), ECHO_REQ probe ···· anything heard ──► onQuiet(false)
 *   nothing heard 3 s after the probe ──► dropped (liveness.ts)
 *   socket close ──► onDisconnect(error) ──(backoff)──► connect again ──► onConnect()
 */
import { connectTo, type GearmanTlsOptions, type ServerStream, type StreamOpener } from "./transport.js";
import { FrameDecoder } from "./decoder.js";
import { DEFAULT_MAX_PACKET_SIZE, type Packet } from "./packet.js";
import { formatAddress, type ServerAddress } from "./address.js";
import { connectFailed, connectionError, connectTimedOut, GearmanError } from "./errors.js";
import { encodePacket } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { livenessClock, probeData, PROBE_ANSWER_MS, PROBE_EVERY_MS, type LivenessWatcher } from "./liveness.js";

export interface ReconnectOptions {
  /** First delay before reconnecting, in ms. Default 100. */
  readonly initialDelayMs: number;
  /** Longest delay between reconnect attempts, in ms. Default 2000: a healed link is used again within seconds. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT: ReconnectOptions = Object.freeze({ initialDelayMs: 100, maxDelayMs: 2000 });

export interface ConnectionOptions {
  readonly maxPacketSize?: number;
  readonly reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Speak TLS to the server. Default: plain TCP. */
  readonly tls?: GearmanTlsOptions;
  /** Opens the byte stream itself (e.g. to an in-process JobServer). Default: TCP, or TLS with `tls`. */
  readonly open?: StreamOpener;
  /**
   * Asked when bytes are queued and no write is due yet: true holds them to the end of this
   * event-loop turn instead of this tick, so what the handlers of several events of one turn
   * send (results of jobs whose replies arrived together) goes out in one write. Default: never.
   */
  readonly gatherWrites?: () => boolean;
  /**
   * Probe the server when it falls silent and drop the connection when it does not answer
   * (liveness.ts: an ECHO_REQ after 2 s without hearing from it or sending to it, dropped 3 s
   * later if nothing at all came back). Default true; false for a peer that cannot answer ECHO_REQ.
   */
  readonly probe?: boolean;
  /** The server has said nothing for 2 s (true; a probe is on its way), or is heard again (false). */
  readonly onQuiet?: (quiet: boolean, connection: ServerConnection) => void;
  readonly onPacket: (packet: Packet, connection: ServerConnection) => void;
  readonly onConnect?: (connection: ServerConnection) => void;
  readonly onDisconnect?: (error: GearmanError, connection: ServerConnection) => void;
}

export class ServerConnection implements LivenessWatcher {
  readonly address: ServerAddress;
  readonly name: string;
  private socket: ServerStream | undefined;
  private isConnected = false;
  private closed = false;
  private pending: Buffer[] = [];
  private flushScheduled = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly reconnect: ReconnectOptions | false;
  /** The ECHO_REQ this connection probes with, and the data of its reply (swallowed when it comes). */
  private readonly probePacket: Buffer | undefined;
  private readonly probeReply: Buffer | undefined;
  /** When (livenessClock) bytes last came from the server, and last went to it. */
  private heardAt = 0;
  private sentAt = 0;
  /** When the probe in flight left, if one is; whether anything was heard since. */
  private probeSentAt: number | undefined;
  private heardSinceProbe = false;
  private isQuiet = false;
  /** Bytes waiting to be taken by the kernel at the last tick: less now means the server is reading. */
  private unsentBefore = 0;
  /** Why the connection is not up (its last failed attempt, or what dropped it); undefined while connected or before any try. */
  private lastFailure: GearmanError | undefined;
  /** Connection attempts that failed and connections that were lost, since this object was made. */
  private failureCount = 0;

  constructor(
    address: ServerAddress,
    private readonly options: ConnectionOptions,
  ) {
    this.address = address;
    this.name = formatAddress(address);
    this.reconnect = options.reconnect === undefined ? DEFAULT_RECONNECT : options.reconnect;
    if (options.probe !== false) {
      this.probeReply = probeData();
      this.probePacket = encodePacket("REQ", "ECHO_REQ", { data: this.probeReply });
    }
  }

  get connected(): boolean {
    return this.isConnected;
  }

  /** Connected, and nothing heard from the server for 2 s: it may be gone (a probe is on its way). */
  get quiet(): boolean {
    return this.isQuiet;
  }

  /** Why it is not connected: the last attempt's failure, or what dropped the connection; undefined while connected or before the first attempt ended. */
  get lastError(): GearmanError | undefined {
    return this.lastFailure;
  }

  /** How many connection attempts failed, and connections were lost, so far: it grows by one at each. */
  get failures(): number {
    return this.failureCount;
  }

  /** Tries to connect now rather than at the end of the reconnect backoff (nothing while connected or connecting). */
  reconnectNow(): void {
    if (this.closed || this.socket || !this.retryTimer) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.open();
  }

  /** Starts connecting (and reconnecting after every loss, until close()). */
  open(): void {
    if (this.closed || this.socket) return;
    const opened = this.options.open?.(this.address);
    const { socket, ready } = opened
      ? { socket: opened, ready: "connect" }
      : connectTo(this.address, { tls: this.options.tls, noDelay: true });
    this.socket = socket;
    const decoder = new FrameDecoder({
      expect: "RES",
      maxPacketSize: this.options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
      peer: this.name,
      // A stream the caller opened may hand over buffers its writer still holds (an in-process socket does).
      freshChunks: !opened,
      onPacket: (packet) => {
        if (packet.type === PacketType.ECHO_RES && this.probeReply?.equals(packet.body)) return;
        this.options.onPacket(packet, this);
      },
    });
    let failure: GearmanError | undefined;
    const connectTimer = setTimeout(() => {
      failure = connectTimedOut(this.name, this.options.connectTimeoutMs ?? 5000);
      socket.destroy();
    }, this.options.connectTimeoutMs ?? 5000);
    socket.setKeepAlive?.(true, 10_000);
    socket.once(ready, () => {
      clearTimeout(connectTimer);
      this.isConnected = true;
      this.attempt = 0;
      this.lastFailure = undefined;
      this.heardAt = this.sentAt = livenessClock.now;
      this.unsentBefore = 0;
      if (this.probePacket) {
        livenessClock.add(this);
        // The first probe goes at once: it tells an embedded server that this peer probes (silent-peers.ts).
        this.probeSentAt = livenessClock.now;
        this.heardSinceProbe = false;
        this.send(this.probePacket);
      }
      this.options.onConnect?.(this);
      if (this.pending.length > 0) this.scheduleFlush();
    });
    socket.on("data", (chunk: Buffer) => {
      this.heardAt = livenessClock.now;
      this.heardSinceProbe = true;
      if (this.isQuiet) this.setQuiet(false);
      try {
        decoder.push(chunk);
      } catch (error) {
        failure = error as GearmanError;
        socket.destroy();
      }
    });
    socket.on("error", (error) => {
      // drop() with a connection error already naming this server keeps it as it is.
      failure ??=
        error instanceof GearmanError && error.code === "CONNECTION"
          ? error
          : this.isConnected
            ? connectionError(this.name, error.message, error)
            : connectFailed(this.name, error);
    });
    socket.once("close", () => {
      clearTimeout(connectTimer);
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.isQuiet = false;
      this.probeSentAt = undefined;
      livenessClock.delete(this);
      this.socket = undefined;
      this.pending = [];
      const error =
        failure ?? connectionError(this.name, wasConnected ? "connection closed by the server" : "could not connect");
      this.lastFailure = error;
      this.failureCount++;
      this.options.onDisconnect?.(error, this);
      this.scheduleReconnect();
    });
  }

  /** LivenessWatcher: probes a server gone silent, drops one that does not answer (liveness.ts). */
  check(now: number): void {
    const socket = this.socket;
    if (!socket || !this.isConnected) return;
    const unsent = socket.writableLength;
    if (unsent > 0 && unsent < this.unsentBefore) this.heardAt = now;
    this.unsentBefore = unsent;
    if (!this.isQuiet && now - this.heardAt >= PROBE_EVERY_MS) this.setQuiet(true);
    if (this.probeSentAt === undefined) {
      if (now - this.heardAt < PROBE_EVERY_MS && now - this.sentAt < PROBE_EVERY_MS) return;
      this.probeSentAt = now;
      this.heardSinceProbe = false;
      this.send(this.probePacket!);
    } else if (this.heardSinceProbe) {
      this.probeSentAt = undefined;
    } else if (now - this.probeSentAt >= PROBE_ANSWER_MS) {
      // Read what may have arrived while this process was busy before giving up on the server.
      setImmediate(() => {
        if (this.socket !== socket || this.heardSinceProbe) return;
        this.drop(
          connectionError(
            this.name,
            `no answer to a probe in ${PROBE_ANSWER_MS} ms, after ${PROBE_EVERY_MS} ms of silence: the server, its host or the network to it is down`,
          ),
        );
      });
    }
  }

  private setQuiet(quiet: boolean): void {
    this.isQuiet = quiet;
    this.options.onQuiet?.(quiet, this);
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnect === false || this.retryTimer) return;
    const { initialDelayMs, maxDelayMs } = this.reconnect;
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
    this.attempt++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.open();
    }, delay);
    this.retryTimer.unref();
  }

  /** Queues bytes for the server; returns false (and drops them) when not connected. */
  send(bytes: Buffer): boolean {
    if (!this.isConnected) return false;
    this.pending.push(bytes);
    this.scheduleFlush();
    return true;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.options.gatherWrites?.()) setImmediate(() => this.flush());
    else process.nextTick(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const socket = this.socket;
    const pending = this.pending;
    if (!socket || !this.isConnected || pending.length === 0) return;
    this.pending = [];
    this.sentAt = livenessClock.now;
    if (pending.length === 1) {
      socket.write(pending[0]);
      return;
    }
    socket.cork();
    for (const bytes of pending) socket.write(bytes);
    socket.uncork();
  }

  /** Drops the current socket (it will reconnect unless closed). */
  drop(error?: GearmanError): void {
    if (error) this.socket?.destroy(error);
    else this.socket?.destroy();
  }

  /** Closes for good: no reconnect. Resolves when the socket is gone. */
  close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once("close", () => resolve());
      this.flush();
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }
}
