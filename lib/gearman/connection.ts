/**
 * One TCP connection from a client or worker to one job server: frames the
 * byte stream into packets, batches writes made in the same tick (or, with
 * gatherWrites, the same event-loop turn) into one syscall, and reconnects
 * with exponential backoff until closed.
 *
 *   send(buf) ──► pending[] ──(nextTick, or setImmediate when gathering)──► socket.cork/write/uncork
 *   socket 'data' ──► FrameDecoder ──► onPacket(packet)
 *   socket close ──► onDisconnect(error) ──(backoff)──► connect again ──► onConnect()
 */
import { connectTo, type GearmanTlsOptions, type ServerStream, type StreamOpener } from "./transport.js";
import { FrameDecoder } from "./decoder.js";
import { DEFAULT_MAX_PACKET_SIZE, type Packet } from "./packet.js";
import { formatAddress, type ServerAddress } from "./address.js";
import { connectionError, type GearmanError } from "./errors.js";

export interface ReconnectOptions {
  /** First delay before reconnecting, in ms. Default 100. */
  readonly initialDelayMs: number;
  /** Longest delay between reconnect attempts, in ms. Default 5000. */
  readonly maxDelayMs: number;
}

export const DEFAULT_RECONNECT: ReconnectOptions = Object.freeze({ initialDelayMs: 100, maxDelayMs: 5000 });

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
  readonly onPacket: (packet: Packet, connection: ServerConnection) => void;
  readonly onConnect?: (connection: ServerConnection) => void;
  readonly onDisconnect?: (error: GearmanError, connection: ServerConnection) => void;
}

export class ServerConnection {
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

  constructor(
    address: ServerAddress,
    private readonly options: ConnectionOptions,
  ) {
    this.address = address;
    this.name = formatAddress(address);
    this.reconnect = options.reconnect === undefined ? DEFAULT_RECONNECT : options.reconnect;
  }

  get connected(): boolean {
    return this.isConnected;
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
      onPacket: (packet) => this.options.onPacket(packet, this),
    });
    let failure: GearmanError | undefined;
    const connectTimer = setTimeout(() => {
      failure = connectionError(this.name, `connect timed out after ${this.options.connectTimeoutMs ?? 5000} ms`);
      socket.destroy();
    }, this.options.connectTimeoutMs ?? 5000);
    socket.setKeepAlive?.(true, 10_000);
    socket.once(ready, () => {
      clearTimeout(connectTimer);
      this.isConnected = true;
      this.attempt = 0;
      this.options.onConnect?.(this);
      if (this.pending.length > 0) this.scheduleFlush();
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        failure = error as GearmanError;
        socket.destroy();
      }
    });
    socket.on("error", (error) => {
      failure ??= connectionError(this.name, error.message, error);
    });
    socket.once("close", () => {
      clearTimeout(connectTimer);
      const wasConnected = this.isConnected;
      this.isConnected = false;
      this.socket = undefined;
      this.pending = [];
      const error =
        failure ?? connectionError(this.name, wasConnected ? "connection closed by the server" : "could not connect");
      this.options.onDisconnect?.(error, this);
      this.scheduleReconnect();
    });
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
