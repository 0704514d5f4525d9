/** Options of GearmanWorker and of one registration, validated once into filled, frozen forms. */
import { ArgumentError, wholeNumber } from "../argument-error.js";
import type { ServerAddress } from "./address.js";
import type { ReconnectOptions } from "./connection.js";
import {
  checkKnownKeys,
  checkOptionsObject,
  clientIdOption,
  openOption,
  reconnectOption,
  serversOption,
  tlsOption,
  wholeOption,
} from "./connection-options.js";
import { checkFunctionName } from "./function-name.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";

export interface WorkerOptions {
  /** Job servers: "host:port" (or "unix:/path" for a Unix socket), a comma-separated list, or an array. Default port 4730. */
  servers: string | readonly string[];
  /** Sent as SET_CLIENT_ID on every connection; shows in the admin `workers` listing. One word. Default: none ("-"). */
  clientId?: string;
  /** Most jobs whose handlers run at once, across all servers (a whole number ≥ 1). Default 1. */
  concurrency?: number;
  /** Largest packet accepted from a server, in bytes (≥ 1). Default 64 MiB. */
  maxPacketSize?: number;
  /** Reconnect backoff after a lost connection (`{ initialDelayMs, maxDelayMs }`, whole ms ≥ 1), or false to stay down. Default 100 ms doubling up to 2 s. */
  reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms (≥ 1). Default 5000. */
  connectTimeoutMs?: number;
  /** Speak TLS to the job servers (CA to trust, client certificate). Default: plain TCP. */
  tls?: GearmanTlsOptions;
  /**
   * Every this many ms, each job whose handler has run at least that long sends WORK_DATA with no
   * data, so its client can tell a job that still runs from one whose worker went silent (cut off,
   * hung). Off by default: some clients end a foreground job at its first WORK_DATA (PHP's doNormal
   * returns with GEARMAN_WORK_DATA). Whole ms ≥ 1; default none.
   */
  heartbeatMs?: number;
  /**
   * Opens the byte stream to a server yourself; return undefined for the usual
   * TCP (or TLS) connection. For a JobServer in this process:
   * `open: () => server.connectInProcess()` skips the network.
   */
  open?: StreamOpener;
}

export interface RegisterOptions {
  /**
   * Registers with CAN_DO_TIMEOUT: the server takes the job back after this
   * many ms (gearmand 1.1.20 counts milliseconds, and never fires before
   * about one second). The job's signal aborts when it elapses. Default: none (CAN_DO).
   */
  timeoutMs?: number;
}

export interface FilledWorkerOptions {
  readonly servers: readonly ServerAddress[];
  readonly clientId: string | undefined;
  readonly concurrency: number;
  readonly maxPacketSize: number;
  readonly reconnect: ReconnectOptions | false;
  readonly connectTimeoutMs: number;
  readonly tls: GearmanTlsOptions | undefined;
  readonly heartbeatMs: number | undefined;
  readonly open: StreamOpener | undefined;
}

const OWNER = "GearmanWorker";
const WORKER_KEYS: readonly (keyof WorkerOptions)[] = [
  "servers",
  "clientId",
  "concurrency",
  "maxPacketSize",
  "reconnect",
  "connectTimeoutMs",
  "tls",
  "heartbeatMs",
  "open",
];
const REGISTER_KEYS: readonly (keyof RegisterOptions)[] = ["timeoutMs"];

export function fillWorkerOptions(options: WorkerOptions): FilledWorkerOptions {
  checkOptionsObject(OWNER, options, " with servers");
  checkKnownKeys(OWNER, options, WORKER_KEYS);
  return Object.freeze({
    servers: serversOption(OWNER, options.servers),
    clientId: clientIdOption(OWNER, options.clientId),
    concurrency: wholeOption(OWNER, "concurrency", options.concurrency, 1, 1),
    maxPacketSize: wholeOption(OWNER, "maxPacketSize", options.maxPacketSize, 1, DEFAULT_MAX_PACKET_SIZE),
    reconnect: reconnectOption(OWNER, options.reconnect),
    connectTimeoutMs: wholeOption(OWNER, "connectTimeoutMs", options.connectTimeoutMs, 1, 5000),
    tls: tlsOption(OWNER, options.tls),
    heartbeatMs:
      options.heartbeatMs === undefined ? undefined : wholeOption(OWNER, "heartbeatMs", options.heartbeatMs, 1, 1),
    open: openOption(OWNER, options.open),
  });
}

export function checkConcurrency(n: unknown): number {
  return wholeNumber("GearmanWorker concurrency", n, 1);
}

/** Checks a function name and its registration options; returns its CAN_DO_TIMEOUT, if any. */
export function checkRegistration(func: unknown, handler: unknown, options: RegisterOptions): number | undefined {
  checkFunctionName("GearmanWorker.register function", func);
  const owner = `GearmanWorker.register(${JSON.stringify(func)})`;
  if (typeof handler !== "function")
    throw new ArgumentError(`${owner} handler`, `expected a function, got ${typeof handler}`);
  checkOptionsObject(owner, options, "");
  checkKnownKeys(owner, options, REGISTER_KEYS);
  return options.timeoutMs === undefined ? undefined : wholeNumber(`${owner} option timeoutMs`, options.timeoutMs, 1);
}
