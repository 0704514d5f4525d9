/** Options of GearmanWorker and of one registration, validated once into filled, frozen forms. */
import { parseAddressList, type ServerAddress } from "./address.js";
import type { GearmanTlsOptions } from "./transport.js";
import { DEFAULT_RECONNECT, type ReconnectOptions } from "./connection.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";

export interface WorkerOptions {
  /** Job servers: "host:port", a comma-separated list, or an array. Default port 4730. */
  servers: string | readonly string[];
  /** Sent as SET_CLIENT_ID on every connection; shows in the admin `workers` listing. Default: none ("-"). */
  clientId?: string;
  /** Most jobs whose handlers run at once, across all servers. Default 1. */
  concurrency?: number;
  /** Largest packet accepted from a server, in bytes. Default 64 MiB. */
  maxPacketSize?: number;
  /** Reconnect backoff after a lost connection, or false to stay down. Default 100 ms doubling up to 5 s. */
  reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Speak TLS to the job servers (CA to trust, client certificate). Default: plain TCP. */
  tls?: GearmanTlsOptions;
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
}

export function fillWorkerOptions(options: WorkerOptions): FilledWorkerOptions {
  if (options === null || typeof options !== "object") throw new TypeError("GearmanWorker: options must be an object with `servers`");
  const { clientId } = options;
  if (clientId !== undefined && (typeof clientId !== "string" || clientId === "" || /[\0\s]/.test(clientId))) {
    throw new TypeError(`GearmanWorker option clientId: expected a non-empty string without spaces or NUL, got ${JSON.stringify(clientId)}`);
  }
  return Object.freeze({
    servers: Object.freeze(parseAddressList(options.servers)),
    clientId,
    concurrency: checkConcurrency(options.concurrency ?? 1),
    maxPacketSize: positiveInteger("maxPacketSize", options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE),
    reconnect: options.reconnect ?? DEFAULT_RECONNECT,
    connectTimeoutMs: positiveInteger("connectTimeoutMs", options.connectTimeoutMs ?? 5000),
    tls: options.tls && Object.freeze({ ...options.tls }),
  });
}

export function checkConcurrency(n: unknown): number {
  return positiveInteger("concurrency", n);
}

/** Checks a function name and its registration options. */
export function checkRegistration(func: unknown, handler: unknown, options: RegisterOptions): number | undefined {
  checkFunctionName(func);
  if (typeof handler !== "function") throw new TypeError(`GearmanWorker.register(${JSON.stringify(func)}): handler must be a function`);
  if (options === null || typeof options !== "object") throw new TypeError(`GearmanWorker.register(${JSON.stringify(func)}): options must be an object`);
  return options.timeoutMs === undefined ? undefined : positiveInteger(`timeoutMs of ${JSON.stringify(func)}`, options.timeoutMs);
}

export function checkFunctionName(func: unknown): asserts func is string {
  if (typeof func !== "string" || func === "" || func.includes("\0")) {
    throw new TypeError(`Gearman function name must be a non-empty string without NUL, got ${JSON.stringify(func)}`);
  }
}

function positiveInteger(what: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) throw new TypeError(`GearmanWorker ${what}: expected a whole number ≥ 1, got ${String(n)}`);
  return n;
}
