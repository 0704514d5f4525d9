/**
 * What the one retry engine (retry-run.ts) runs on: the attempts it drives
 * and the rules a policy supplies as hooks. GearmanClient.submitJob's
 * options are one set of rules (submit-rules.ts); the pool's chunks are
 * another (lib/pool/chunk-job.ts). Rules classify; the engine keeps the
 * loop, the counts, the deadline and the order of things.
 *
 * Words: an *attempt* is one Gearman job (one SUBMIT_JOB* to one server);
 * a *retry* is anything that spends from a *budget* (a named count with a
 * limit: "retries", "failovers"), whether it starts a new attempt or
 * happened inside one (a job server that handed the job to another worker
 * by itself); a retry with no budget is free.
 */
import type { GearmanError } from "./errors.js";

/** One attempt as the engine sees it (GearmanClient.attempt makes them). */
export interface Attempt {
  readonly unique: string;
  /** The server's job handle once it answered JOB_CREATED. */
  readonly handle: string | undefined;
  /** "host:port" of the server it was sent to; undefined while it waits for one. */
  readonly server: string | undefined;
  /**
   * Its server has said nothing for a while (its connection is probing it): a worker's silence about
   * the attempt then tells nothing of the worker, since nothing of that server reaches this process.
   * Undefined or false when the server is heard, or for attempts that cannot tell.
   */
  readonly serverQuiet?: boolean;
  /** Sends it (or lets it wait for a server): from now on it reports to its observer. */
  send(): void;
  /** Drops it here: it reports nothing more. Its server keeps it until withdraw(). */
  giveUp(): void;
  /** After giveUp(): cancels it on its server (admin `cancel job`), now or once its JOB_CREATED arrives. */
  withdraw(): void;
  /** This attempt joined the very job `other` created (same non-empty unique on the same server: Gearman coalesces them). */
  joins(other: Attempt): boolean;
}

/** What an attempt reports, once each for `completed` and `failed` and never after giveUp(). */
export interface AttemptObserver {
  created(attempt: Attempt, handle: string): void;
  status(attempt: Attempt, numerator: number, denominator: number): void;
  data(attempt: Attempt, data: Buffer): void;
  warning(attempt: Attempt, data: Buffer): void;
  /** WORK_COMPLETE (a background attempt: JOB_CREATED, with the handle as data). */
  completed(attempt: Attempt, data: Buffer): void;
  /**
   * It ended without a result: JobError (WORK_FAIL, WORK_EXCEPTION), ServerError (the server refused the
   * submission), CONNECTION (its server was lost), NO_SERVER (none connected in time) or CLOSED.
   */
  failed(attempt: Attempt, error: GearmanError): void;
}

/** Whatever makes attempts: GearmanClient. */
export interface AttemptMaker {
  attempt(func: string, data: Buffer, options: AttemptOptions, observer: AttemptObserver, ordinal?: number): Attempt;
}

export interface AttemptOptions {
  readonly unique?: string;
  readonly priority?: "high" | "normal" | "low";
  /** A background job: the attempt completes when the server accepted it, with the handle. */
  readonly background?: boolean;
  /** Background, run at this time (whole seconds since the epoch): SUBMIT_JOB_EPOCH. */
  readonly epoch?: number;
}

/** Go on, spending one of `budget` (none: free): with a new attempt, or, from `status`, with the same one. */
export class Retry {
  constructor(
    readonly error: unknown,
    readonly budget?: string,
    readonly options?: RetryOptions,
  ) {}
}

export interface RetryOptions {
  /** Wait this long before the next attempt, in ms (a backoff): no attempt runs meanwhile, and cancel() ends the wait. */
  readonly delayMs?: number;
  /**
   * A retry that may be declined: when the budget is spent out, the job ends with what this returns
   * (or throws) instead of rules.exhausted(). For an attempt whose result is usable as it is, should
   * no retry be left (some items failed, the others are done).
   */
  readonly otherwise?: () => unknown;
}

/** From `status`: the attempt made progress; its deadline starts again. */
export const PROGRESS = "progress";

/**
 * A retry policy. A hook that throws ends the job with what it threw. Every
 * hook gets the attempt it concerns (the current one).
 */
export interface RetryRules<T> {
  /** How long one attempt may go without finishing (from its sending, and again from each PROGRESS), in ms; undefined: no limit. */
  readonly attemptTimeoutMs: number | undefined;
  /**
   * Once a worker holds an attempt (its status said PROGRESS, or made a retry inside it), how long the
   * attempt may go without reporting anything at all (status, data, warning) before it is taken for
   * lost and given up, in ms; undefined: no such bound. For workers that send a heartbeat while they
   * hold a job: it tells a job that runs long from one whose worker went silent (cut off, hung).
   */
  readonly silenceMs?: number;
  /** How many retries `budget` allows. */
  limit(budget: string): number;
  /** Makes attempt number `ordinal` (1 for the first), unsent, reporting to `observer`. */
  attempt(ordinal: number, observer: AttemptObserver, previous: Attempt | undefined): Attempt;
  /** The attempt's result: the job's value, or a Retry (a result that cannot be trusted). */
  completed(data: Buffer, attempt: Attempt): T | Retry;
  /** How a failed attempt goes on: a Retry, or undefined to end the job with `error`. */
  failed(error: GearmanError, attempt: Attempt): Retry | undefined;
  /** The attempt's deadline passed (it was given up): the Retry to make (its budget may be spent out). */
  timedOut(attempt: Attempt): Retry;
  /** The attempt was silent past silenceMs (it was given up): the Retry to make (its budget may be spent out). Required with silenceMs. */
  silent?(attempt: Attempt): Retry;
  /** The error a job ends with when a Retry found its budget spent (`spent`: the retries it had spent, all of them). */
  exhausted(budget: string, error: unknown, spent: number, attempt: Attempt): unknown;
  /** The error a job ends with when it is cancelled or its signal aborts (`attempt`: undefined before the first). */
  aborted(reason: unknown, attempt: Attempt | undefined): unknown;
  /** WORK_STATUS: PROGRESS, a Retry made inside the attempt (spent now; the attempt goes on), or nothing. */
  status?(numerator: number, denominator: number, attempt: Attempt): typeof PROGRESS | Retry | undefined;
  /** One of `budget` was spent, for `error`. */
  spent?(budget: string, error: unknown, attempt: Attempt): void;
  /** The engine gave up an attempt a worker may hold (its deadline passed, it went silent, or a retry inside it found the budget spent). */
  gaveUp?(attempt: Attempt, error: unknown): void;
  /** An attempt was sent (`previous`: the one before it, if any). */
  sent?(attempt: Attempt, previous: Attempt | undefined): void;
  created?(handle: string, attempt: Attempt): void;
  data?(data: Buffer, attempt: Attempt): void;
  warning?(data: Buffer, attempt: Attempt): void;
}
