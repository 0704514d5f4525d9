/** Options of GearmanWorker, of one registration and of stop(), validated once into filled, frozen forms (lib/options-schema.ts). */
import { ArgumentError, shown, wholeNumber } from "../argument-error.js";
import { REFUSED, Rule, flag, optionsSchema, whole, type Filled, type RulesOf } from "../options-schema.js";
import type { ReconnectOptions } from "./connection.js";
import { CONNECTION_RULES } from "./connection-options.js";
import { checkFunctionName } from "./function-name.js";
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
   * With one server, ask it to hand this worker its next job in place of the NOOP that wakes it
   * (lib/gearman/wake-with-job.ts): our job server does, saving a round trip before each job that finds
   * the worker asleep; gearmand refuses the option and nothing changes. Default true.
   */
  wakeWithJob?: boolean;
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

const WORKER = optionsSchema("GearmanWorker", {
  ...CONNECTION_RULES,
  concurrency: whole(1).default(1),
  heartbeatMs: whole(1).optional(),
  wakeWithJob: flag().default(true),
} satisfies RulesOf<WorkerOptions>);

export type FilledWorkerOptions = Filled<typeof WORKER.rules>;

export function fillWorkerOptions(options: WorkerOptions): FilledWorkerOptions {
  return WORKER.fill(options);
}

export function checkConcurrency(n: unknown): number {
  return wholeNumber("GearmanWorker concurrency", n, 1);
}

const REGISTER = optionsSchema("GearmanWorker.register", {
  timeoutMs: whole(1).optional(),
} satisfies RulesOf<RegisterOptions>);

const STOP = optionsSchema("GearmanWorker.stop", {
  deadlineMs: new Rule("a number ≥ 0", (value) => (typeof value === "number" && value >= 0 ? value : REFUSED)).default(
    30_000,
  ),
});

/** stop()'s options, filled: how long running jobs may take. */
export function fillStopOptions(options: { deadlineMs?: number }): { readonly deadlineMs: number } {
  return STOP.fill(options);
}

/** Checks a function name and its registration options; returns its CAN_DO_TIMEOUT, if any. */
export function checkRegistration(name: unknown, handler: unknown, options: RegisterOptions): number | undefined {
  checkFunctionName("GearmanWorker.register function", name);
  const owner = `GearmanWorker.register(${JSON.stringify(name)})`;
  if (typeof handler !== "function")
    throw new ArgumentError(`${owner} handler`, `expected a function, got ${shown(handler)}`);
  return REGISTER.fill(options, owner).timeoutMs;
}
