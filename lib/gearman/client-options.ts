/** Options of GearmanClient and of one submission, validated once into filled, frozen forms. */
import { parseAddressList, type ServerAddress } from "./address.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";
import { DEFAULT_RECONNECT, type ReconnectOptions } from "./connection.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";

export type Priority = "high" | "normal" | "low";

export interface ClientOptions {
  /** Job servers: "host:port", a comma-separated list, or an array. Default port 4730. */
  servers: string | readonly string[];
  /** Sent as SET_CLIENT_ID on every connection (shows in admin output). */
  clientId?: string;
  /** Ask every server for WORK_EXCEPTION packets (OPTION_REQ "exceptions"). Default true. */
  exceptions?: boolean;
  /** Largest packet accepted from a server, in bytes. Default 64 MiB. */
  maxPacketSize?: number;
  /** Reconnect backoff, or false to stay down after a loss. */
  reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Speak TLS to the job servers (CA to trust, client certificate). Default: plain TCP. */
  tls?: GearmanTlsOptions;
  /** How long a job waits for any server to be connected before it fails with NO_SERVER, in ms. Default 10000. */
  noServerTimeoutMs?: number;
  /** How often a job is resubmitted to another server after its server was lost. Default 3. */
  maxFailovers?: number;
  /**
   * Opens the byte stream to a server yourself; return undefined for the usual
   * TCP (or TLS) connection. For a JobServer in this process:
   * `open: () => server.connectInProcess()` skips the network.
   */
  open?: StreamOpener;
}

export interface SubmitOptions {
  /** Unique id: jobs of one function with the same unique coalesce on the server. Default: none. */
  unique?: string;
  /** Default "normal". */
  priority?: Priority;
  /** Reject with TIMEOUT after this many ms (each attempt). Default: none. */
  timeoutMs?: number;
  /** Aborting it cancels the job (see ClientJob.cancel). */
  signal?: AbortSignal;
  /** Submit again after WORK_FAIL, WORK_EXCEPTION or a timeout, this many times. Default 0. */
  retries?: number;
}

export interface BackgroundOptions {
  unique?: string;
  priority?: Priority;
  signal?: AbortSignal;
  /** Run at this time (SUBMIT_JOB_EPOCH): a Date or seconds since the epoch. Priority is ignored then. */
  epoch?: number | Date;
}

export interface FilledClientOptions {
  readonly servers: readonly ServerAddress[];
  readonly clientId: string | undefined;
  readonly exceptions: boolean;
  readonly maxPacketSize: number;
  readonly reconnect: ReconnectOptions | false;
  readonly connectTimeoutMs: number;
  readonly tls: GearmanTlsOptions | undefined;
  readonly noServerTimeoutMs: number;
  readonly maxFailovers: number;
  readonly open: StreamOpener | undefined;
}

export function fillClientOptions(options: ClientOptions): FilledClientOptions {
  if (options === null || typeof options !== "object") throw new TypeError("GearmanClient: options must be an object with `servers`");
  if (options.open !== undefined && typeof options.open !== "function") throw new TypeError("GearmanClient: `open` must be a function returning a stream, or undefined");
  return Object.freeze({
    servers: Object.freeze(parseAddressList(options.servers)),
    clientId: options.clientId,
    exceptions: options.exceptions ?? true,
    maxPacketSize: options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
    reconnect: options.reconnect ?? DEFAULT_RECONNECT,
    connectTimeoutMs: options.connectTimeoutMs ?? 5000,
    tls: options.tls && Object.freeze({ ...options.tls }),
    noServerTimeoutMs: options.noServerTimeoutMs ?? 10_000,
    maxFailovers: options.maxFailovers ?? 3,
    open: options.open,
  });
}

export function toBuffer(data: Buffer | Uint8Array | string): Buffer {
  if (typeof data === "string") return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
