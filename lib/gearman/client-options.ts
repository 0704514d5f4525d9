/**
 * Options of GearmanClient, validated once into a filled, frozen form, and
 * of one submission, checked on every submit (the job's retry rules,
 * submit-rules.ts, keep the values: no filled copy per job).
 */
import { ArgumentError, wholeNumber } from "../argument-error.js";
import type { ServerAddress } from "./address.js";
import type { ReconnectOptions } from "./connection.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";
import {
  booleanOption,
  checkKnownKeys,
  checkOptionsObject,
  clientIdOption,
  openOption,
  reconnectOption,
  serversOption,
  tlsOption,
  wholeOption,
} from "./connection-options.js";

export type Priority = "high" | "normal" | "low";

export interface ClientOptions {
  /** Job servers: "host:port" (or "unix:/path" for a Unix socket), a comma-separated list, or an array. Default port 4730. */
  servers: string | readonly string[];
  /** Sent as SET_CLIENT_ID on every connection (shows in admin output): one word. Default: none. */
  clientId?: string;
  /** Ask every server for WORK_EXCEPTION packets (OPTION_REQ "exceptions"). Default true. */
  exceptions?: boolean;
  /** Largest packet accepted from a server, in bytes (a whole number ≥ 1). Default 64 MiB. */
  maxPacketSize?: number;
  /** Reconnect backoff (`{ initialDelayMs, maxDelayMs }`, whole ms ≥ 1), or false to stay down after a loss. Default 100 ms doubling up to 2 s. */
  reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms (also the limit of an admin `cancel job`). Default 5000. */
  connectTimeoutMs?: number;
  /** Speak TLS to the job servers (CA to trust, client certificate), for jobs and for admin `cancel job` alike. Default: plain TCP. */
  tls?: GearmanTlsOptions;
  /** How long a job waits for any server to be connected before it fails with NO_SERVER, in ms (≥ 1). Default 10000. */
  noServerTimeoutMs?: number;
  /** How often a job is resubmitted to another server after its server was lost (≥ 0); SubmitOptions.failovers overrides it per job. Default 3. */
  maxFailovers?: number;
  /**
   * Opens the byte stream to a server yourself; return undefined for the usual
   * TCP (or TLS) connection. Used for every connection to a server, the admin
   * one that cancels jobs included. For a JobServer in this process:
   * `open: () => server.connectInProcess()` skips the network.
   */
  open?: StreamOpener;
}

export interface SubmitOptions {
  /** Unique id: jobs of one function with the same unique coalesce on the server. No NUL bytes. Default: none. */
  unique?: string;
  /** Default "normal". */
  priority?: Priority;
  /**
   * Reject with TIMEOUT after this many ms (each attempt: a retry's and a failover's
   * start their own; a whole number ≥ 1). An attempt still queued when it fires is
   * cancelled on its server (admin `cancel job`), unless a retry under the same
   * unique joins that very job. Default: none.
   */
  timeoutMs?: number;
  /** Aborting it cancels the job (see ClientJob.cancel). */
  signal?: AbortSignal;
  /** Submit again after WORK_FAIL, WORK_EXCEPTION or a timeout, this many times (≥ 0). Failovers do not count. Default 0. */
  retries?: number;
  /**
   * How often this job is resubmitted to another server after its server was
   * lost (≥ 0), instead of the client's `maxFailovers`. With 0 a lost server
   * rejects the job at once with CONNECTION (for callers that retry
   * themselves). Default: the client's maxFailovers.
   */
  failovers?: number;
}

export interface BackgroundOptions {
  /** As SubmitOptions.unique. */
  unique?: string;
  /** Default "normal"; ignored with `epoch`. */
  priority?: Priority;
  /** Aborting it before the server accepted the job rejects with ABORTED and cancels the job on the server. */
  signal?: AbortSignal;
  /** Run at this time (SUBMIT_JOB_EPOCH): a Date or whole seconds since the epoch. Priority is ignored then. */
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

const OWNER = "GearmanClient";
const CLIENT_KEYS: readonly (keyof ClientOptions)[] = [
  "servers",
  "clientId",
  "exceptions",
  "maxPacketSize",
  "reconnect",
  "connectTimeoutMs",
  "tls",
  "noServerTimeoutMs",
  "maxFailovers",
  "open",
];
const SUBMIT_KEYS: readonly (keyof SubmitOptions)[] = [
  "unique",
  "priority",
  "timeoutMs",
  "signal",
  "retries",
  "failovers",
];
const BACKGROUND_KEYS: readonly (keyof BackgroundOptions)[] = ["unique", "priority", "signal", "epoch"];
const PRIORITIES: readonly Priority[] = ["high", "normal", "low"];

export function fillClientOptions(options: ClientOptions): FilledClientOptions {
  checkOptionsObject(OWNER, options, " with servers");
  checkKnownKeys(OWNER, options, CLIENT_KEYS);
  return Object.freeze({
    servers: serversOption(OWNER, options.servers),
    clientId: clientIdOption(OWNER, options.clientId),
    exceptions: booleanOption(OWNER, "exceptions", options.exceptions, true),
    maxPacketSize: wholeOption(OWNER, "maxPacketSize", options.maxPacketSize, 1, DEFAULT_MAX_PACKET_SIZE),
    reconnect: reconnectOption(OWNER, options.reconnect),
    connectTimeoutMs: wholeOption(OWNER, "connectTimeoutMs", options.connectTimeoutMs, 1, 5000),
    tls: tlsOption(OWNER, options.tls),
    noServerTimeoutMs: wholeOption(OWNER, "noServerTimeoutMs", options.noServerTimeoutMs, 1, 10_000),
    maxFailovers: wholeOption(OWNER, "maxFailovers", options.maxFailovers, 0, 3),
    open: openOption(OWNER, options.open),
  });
}

/** Checks a foreground submission's options (it allocates nothing: this runs for every job). */
export function checkSubmitOptions(options: SubmitOptions): void {
  if (options === null || typeof options !== "object")
    throw new ArgumentError(
      "submitJob options",
      `expected an object, got ${options === null ? "null" : typeof options}`,
    );
  checkKnownKeys("submitJob", options, SUBMIT_KEYS);
  checkShared("submitJob", options);
  if (options.timeoutMs !== undefined) wholeNumber("submitJob option timeoutMs", options.timeoutMs, 1);
  if (options.retries !== undefined) wholeNumber("submitJob option retries", options.retries, 0);
  if (options.failovers !== undefined) wholeNumber("submitJob option failovers", options.failovers, 0);
}

/** Checks a background submission's options; returns its epoch in whole seconds, if any. */
export function checkBackgroundOptions(options: BackgroundOptions): number | undefined {
  if (options === null || typeof options !== "object")
    throw new ArgumentError(
      "submitBackground options",
      `expected an object, got ${options === null ? "null" : typeof options}`,
    );
  checkKnownKeys("submitBackground", options, BACKGROUND_KEYS);
  checkShared("submitBackground", options);
  const { epoch } = options;
  if (epoch === undefined) return undefined;
  if (epoch instanceof Date) {
    const ms = epoch.getTime();
    if (Number.isNaN(ms) || ms < 0)
      throw new ArgumentError("submitBackground option epoch", "expected a valid Date after 1970");
    return Math.floor(ms / 1000);
  }
  return wholeNumber("submitBackground option epoch", epoch, 0);
}

function checkShared(owner: string, options: SubmitOptions | BackgroundOptions): void {
  const { unique, priority, signal } = options;
  if (unique !== undefined && (typeof unique !== "string" || unique.includes("\0"))) {
    throw new ArgumentError(
      `${owner} option unique`,
      `expected a string without NUL bytes, got ${typeof unique === "string" ? JSON.stringify(unique) : typeof unique}`,
    );
  }
  if (priority !== undefined && !PRIORITIES.includes(priority))
    throw new ArgumentError(
      `${owner} option priority`,
      `expected "high", "normal" or "low", got ${JSON.stringify(priority)}`,
    );
  if (signal !== undefined && !(signal instanceof AbortSignal))
    throw new ArgumentError(`${owner} option signal`, `expected an AbortSignal, got ${typeof signal}`);
}
