/**
 * Options of GearmanClient, validated once into a filled, frozen form, and
 * of one submission, checked on every submit (the job's retry rules,
 * submit-rules.ts, keep the values: no filled copy per job).
 */
import {
  REFUSED,
  Rule,
  flag,
  instance,
  oneOf,
  optionsSchema,
  whole,
  type Filled,
  type RulesOf,
} from "../options-schema.js";
import type { ReconnectOptions } from "./connection.js";
import { CONNECTION_RULES } from "./connection-options.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";

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
  /**
   * How long a job waits for any server to be connected before it fails with NO_SERVER (naming every
   * server and why it is not connected), in ms (≥ 1); false: no limit of its own (the job's timeoutMs,
   * if any, bounds the wait). Default 10000.
   */
  noServerTimeoutMs?: number | false;
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

const CLIENT = optionsSchema("GearmanClient", {
  ...CONNECTION_RULES,
  exceptions: flag().default(true),
  noServerTimeoutMs: whole(1).or(oneOf(false)).default(10_000),
  maxFailovers: whole(0).default(3),
} satisfies RulesOf<ClientOptions>);

export type FilledClientOptions = Filled<typeof CLIENT.rules>;

export function fillClientOptions(options: ClientOptions): FilledClientOptions {
  return CLIENT.fill(options);
}

const unique = new Rule("a string without NUL bytes", (value) =>
  typeof value === "string" && !value.includes("\0") ? value : REFUSED,
).optional();
const priority = oneOf("high", "normal", "low").optional();
const signal = instance(AbortSignal, "an AbortSignal").optional();

const SUBMIT = optionsSchema("submitJob", {
  unique,
  priority,
  timeoutMs: whole(1).optional(),
  signal,
  retries: whole(0).optional(),
  failovers: whole(0).optional(),
} satisfies RulesOf<SubmitOptions>);

const epochDate = new Rule("a Date from 1970 on", (value) =>
  value instanceof Date && value.getTime() >= 0 ? value : REFUSED,
);

const BACKGROUND = optionsSchema("submitBackground", {
  unique,
  priority,
  signal,
  epoch: whole(0).or(epochDate).optional(),
} satisfies RulesOf<BackgroundOptions>);

/** Checks a foreground submission's options (it allocates nothing: this runs for every job). */
export function checkSubmitOptions(options: SubmitOptions): void {
  SUBMIT.check(options);
}

/** Checks a background submission's options; returns its epoch in whole seconds, if any. */
export function checkBackgroundOptions(options: BackgroundOptions): number | undefined {
  BACKGROUND.check(options);
  const { epoch } = options;
  return epoch instanceof Date ? Math.floor(epoch.getTime() / 1000) : epoch;
}
