/**
 * The retry rules behind GearmanClient.submitJob's options (and
 * submitBackground's failovers), run by the one retry engine (retry-run.ts):
 *
 *   WORK_FAIL, WORK_EXCEPTION ──► a retry of budget "retries" (a "retry" event) │ the JobError
 *   timeoutMs passed (per attempt) ──► given up, withdrawn ──► a retry of "retries" │ TIMEOUT
 *   its server lost ──► a retry of "failovers" (a "failover" event once placed elsewhere) │ CONNECTION
 *   refused by the server (ERROR), NO_SERVER, CLOSED ──► the job fails
 *   cancel() / signal ──► ABORTED
 *
 * Every step also shows as an event of the job's ClientJob.
 */
import { ClientJob } from "./client-job.js";
import { abortedError, failoversExhausted, timeoutError, JobError, type GearmanError } from "./errors.js";
import {
  Retry,
  type Attempt,
  type AttemptMaker,
  type AttemptObserver,
  type AttemptOptions,
  type RetryRules,
} from "./retry-rules.js";
import { RetryRun } from "./retry-run.js";

export interface SubmitLimits {
  /** Retries after WORK_FAIL, WORK_EXCEPTION or a timeout. */
  readonly retries: number;
  /** Retries after losing the server. */
  readonly failovers: number;
  readonly timeoutMs: number | undefined;
}

export class SubmitRules implements RetryRules<Buffer> {
  readonly run: RetryRun<Buffer>;
  readonly job: ClientJob;
  /** The server the last attempt lost, until the next one is placed. */
  private lostFrom: string | undefined = undefined;
  private attempts = 0;

  constructor(
    private readonly client: AttemptMaker,
    private readonly func: string,
    private readonly payload: Buffer,
    private readonly options: AttemptOptions,
    private readonly limits: SubmitLimits,
    signal: AbortSignal | undefined,
  ) {
    this.run = new RetryRun(this, signal);
    this.job = new ClientJob(func, options.unique ?? "", this.run, this.run.result);
  }

  get attemptTimeoutMs(): number | undefined {
    return this.limits.timeoutMs;
  }

  limit(budget: string): number {
    return budget === "retries" ? this.limits.retries : budget === "failovers" ? this.limits.failovers : 0;
  }

  attempt(ordinal: number, observer: AttemptObserver): Attempt {
    this.attempts = ordinal;
    return this.client.attempt(this.func, this.payload, this.options, observer, ordinal);
  }

  sent(attempt: Attempt): void {
    const from = this.lostFrom;
    if (from === undefined) return;
    this.lostFrom = undefined;
    if (attempt.server !== undefined && attempt.server !== from) this.job.emit("failover", from, attempt.server);
  }

  completed(data: Buffer): Buffer {
    return data;
  }

  failed(error: GearmanError, attempt: Attempt): Retry | undefined {
    if (error instanceof JobError) {
      if (error.exception) this.job.emit("exception", error.exception);
      return new Retry(error, "retries");
    }
    if (error.code === "CONNECTION") {
      this.lostFrom = attempt.server;
      return new Retry(error, "failovers");
    }
    return undefined;
  }

  timedOut(attempt: Attempt): Retry {
    return new Retry(timeoutError(this.describe(attempt), this.limits.timeoutMs!), "retries");
  }

  spent(budget: string, error: unknown): void {
    if (budget === "retries") this.job.emit("retry", this.attempts + 1, error);
  }

  exhausted(budget: string, error: unknown, spent: number, attempt: Attempt): unknown {
    if (budget !== "failovers") return error;
    const lost = error as GearmanError;
    return failoversExhausted(this.describe(attempt), spent + 1, (lost.cause as GearmanError | undefined) ?? lost);
  }

  aborted(reason: unknown, attempt: Attempt | undefined): unknown {
    return abortedError(this.describe(attempt), reason);
  }

  created(handle: string): void {
    this.job.emit("created", handle);
  }

  status(numerator: number, denominator: number): undefined {
    this.job.emit("status", numerator, denominator);
    return undefined;
  }

  data(data: Buffer): void {
    this.job.emit("data", data);
  }

  warning(data: Buffer): void {
    this.job.emit("warning", data);
  }

  /** "job H:host:42 (resize)", for messages. */
  private describe(attempt: Attempt | undefined): string {
    return `job ${attempt?.handle ?? "(not yet created)"} (${this.func})`;
  }
}
