/**
 * The retry engine: one job run as a series of attempts under a set of
 * rules (retry-rules.ts). It is the only place that retries, counts
 * retries, times attempts and gives them up; GearmanClient.submitJob and the
 * pool's chunks both run on it, each with its own rules.
 *
 *   start ──► rules.attempt(1) ──send──► (the attempt reports to this run)
 *     created / data / warning ──► rules' hooks
 *     status ──► rules.status ──► PROGRESS: the deadline starts again; a worker holds the attempt
 *                            └──► Retry: spend its budget (spent out: give the attempt up, fail) and go on
 *     held, and then no status, data or warning for rules.silenceMs ──► give the attempt up ──► rules.silent ──► a Retry
 *       (unless its server is quiet: nothing of it reaches this process, so the verdict waits for its connection's probe)
 *     completed ──► rules.completed ──► the value │ a Retry
 *     failed ──► rules.failed ──► a Retry │ the job fails with the attempt's error
 *     deadline (rules.attemptTimeoutMs, one per attempt) ──► give the attempt up ──► rules.timedOut ──► a Retry
 *   a Retry ──► spend one of its budget ──► spent out: the job fails with rules.exhausted(...)
 *                                     └──► rules.spent ──► rules.attempt(n + 1) ──send──► ...
 *   cancel() / the signal aborts ──► give the attempt up ──► the job fails with rules.aborted(...)
 *
 * An attempt given up here (deadline, a budget spent out, cancel) is
 * withdrawn from its server, unless the attempt sent after it joined that
 * very job (same unique, same server: withdrawing it would withdraw both).
 *
 * Two clocks per attempt, both kept here: the deadline (rules.attemptTimeoutMs,
 * from the sending and again from each PROGRESS) bounds how long an attempt
 * may run; the silence bound (rules.silenceMs, armed once a worker holds the
 * attempt and restarted by every report of it) bounds how long a worker that
 * holds it may say nothing, so a worker cut off or hung is noticed in
 * seconds, whatever the job server notices. A silence that ends while this
 * process was busy is checked again after the next poll for input: what
 * arrived meanwhile is read before the attempt is given up.
 *
 * A Retry may ask for a pause before the next attempt (`delayMs`: a
 * backoff), during which no attempt runs, no deadline or silence bound is
 * armed, and cancel() ends the job at once; and it may be declinable
 * (`otherwise`): with its budget spent, the job ends with that instead of
 * rules.exhausted() (a result some of whose items failed, kept as it is).
 */
import type { GearmanError } from "./errors.js";
import { PROGRESS, Retry, type Attempt, type AttemptObserver, type RetryRules } from "./retry-rules.js";

const ONCE = Object.freeze({ once: true });
/** How often a silence bound that passed while the attempt's server was quiet is checked again. */
const QUIET_RECHECK_MS = 500;

export class RetryRun<T> implements AttemptObserver {
  /** Resolves with the job's value; rejects with what ended it. */
  readonly result: Promise<T>;
  /** Attempts made so far (given up, failed and current). */
  attempts = 0;
  private current: Attempt | undefined = undefined;
  private spentCounts: Map<string, number> | undefined = undefined;
  private deadline: NodeJS.Timeout | undefined = undefined;
  /** The silence bound's timer, once a worker holds the current attempt (rules.silenceMs). */
  private silence: NodeJS.Timeout | undefined = undefined;
  /** The pause before the next attempt (a Retry's delayMs). */
  private pause: NodeJS.Timeout | undefined = undefined;
  private settled = false;
  private resolveResult!: (value: T) => void;
  private rejectResult!: (error: unknown) => void;

  constructor(
    private readonly rules: RetryRules<T>,
    private readonly signal?: AbortSignal,
  ) {
    this.result = new Promise<T>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A caller that only listens to events must not crash the process on a rejection.
    this.result.catch(ignore);
  }

  /** The current (or, once ended, the last) attempt's handle. */
  get handle(): string | undefined {
    return this.current?.handle;
  }

  /** The current (or, once ended, the last) attempt's server. */
  get server(): string | undefined {
    return this.current?.server;
  }

  /** Retries of `budget` spent so far. */
  spent(budget: string): number {
    return this.spentCounts?.get(budget) ?? 0;
  }

  /** Sends the first attempt (or ends at once if the signal already aborted). */
  start(): this {
    const signal = this.signal;
    if (signal?.aborted) {
      this.cancel(signal.reason);
      return this;
    }
    signal?.addEventListener("abort", this, ONCE);
    try {
      this.launch();
    } catch (error) {
      this.thrown(error);
    }
    return this;
  }

  /** Ends the job with rules.aborted(reason); its attempt is given up and withdrawn. Nothing once it ended. */
  cancel(reason?: unknown): void {
    if (this.settled) return;
    const attempt = this.current;
    attempt?.giveUp();
    let error: unknown;
    try {
      error = this.rules.aborted(reason, attempt);
    } catch (thrown) {
      error = thrown;
    }
    this.fail(error);
    attempt?.withdraw();
  }

  /** The signal aborted (an EventListener object: no closure per job). */
  handleEvent(): void {
    this.cancel(this.signal!.reason);
  }

  created(attempt: Attempt, handle: string): void {
    if (!this.live(attempt)) return;
    try {
      this.rules.created?.(handle, attempt);
    } catch (error) {
      this.thrown(error);
    }
  }

  data(attempt: Attempt, data: Buffer): void {
    if (!this.live(attempt)) return;
    if (this.silence !== undefined) this.armSilence();
    try {
      this.rules.data?.(data, attempt);
    } catch (error) {
      this.thrown(error);
    }
  }

  warning(attempt: Attempt, data: Buffer): void {
    if (!this.live(attempt)) return;
    if (this.silence !== undefined) this.armSilence();
    try {
      this.rules.warning?.(data, attempt);
    } catch (error) {
      this.thrown(error);
    }
  }

  status(attempt: Attempt, numerator: number, denominator: number): void {
    if (!this.live(attempt) || this.rules.status === undefined) return;
    let verdict: typeof PROGRESS | Retry | undefined;
    try {
      verdict = this.rules.status(numerator, denominator, attempt);
      if (verdict === undefined) {
        if (this.silence !== undefined) this.armSilence();
        return;
      }
      if (verdict === PROGRESS || this.spend(verdict, attempt)) {
        this.armDeadline();
        this.armSilence();
        return;
      }
    } catch (error) {
      return this.thrown(error);
    }
    // A retry inside the attempt found its budget spent: nothing of this attempt may run on.
    attempt.giveUp();
    this.giveUpFor(verdict, attempt);
    attempt.withdraw();
  }

  completed(attempt: Attempt, data: Buffer): void {
    if (!this.live(attempt)) return;
    try {
      const value = this.rules.completed(data, attempt);
      if (value instanceof Retry) this.retry(attempt, value, false);
      else this.succeed(value);
    } catch (error) {
      this.thrown(error);
    }
  }

  failed(attempt: Attempt, error: GearmanError): void {
    if (!this.live(attempt)) return;
    try {
      const verdict = this.rules.failed(error, attempt);
      if (verdict === undefined) this.fail(error);
      else this.retry(attempt, verdict, false);
    } catch (error) {
      this.thrown(error);
    }
  }

  /** @internal The current attempt's deadline passed. */
  deadlinePassed(): void {
    this.expire(false);
  }

  /**
   * @internal The silence bound passed: once this turn's input is read, the attempt is given up if nothing
   * came. Not while its server is quiet: then this process hears nothing of that server at all (its own
   * link may be the one cut), which says nothing of the worker; the connection's probe settles it within
   * seconds (the server is heard again, or the connection drops and the attempt fails), so the verdict
   * waits, checked again every QUIET_RECHECK_MS.
   */
  silencePassed(): void {
    const timer = this.silence;
    setImmediate(() => {
      if (this.silence !== timer) return;
      if (this.current?.serverQuiet) {
        clearTimeout(this.silence);
        this.silence = setTimeout(silencePassed, QUIET_RECHECK_MS, this);
        return;
      }
      this.expire(true);
    });
  }

  /** The current attempt ran out of time (or, `silent`, went silent): it is given up and the rules' Retry made. */
  private expire(silent: boolean): void {
    const attempt = this.current;
    if (this.settled || attempt === undefined) return;
    this.clearSilence();
    attempt.giveUp();
    try {
      const verdict = silent ? this.rules.silent!(attempt) : this.rules.timedOut(attempt);
      this.rules.gaveUp?.(attempt, verdict.error);
      this.retry(attempt, verdict, true);
    } catch (error) {
      // thrown() withdraws the attempt too.
      this.thrown(error);
    }
  }

  /** `attempt` ended (given up here when `given`): spend the Retry's budget and make the next attempt, or end. */
  private retry(attempt: Attempt, verdict: Retry, given: boolean): void {
    if (!this.spend(verdict, attempt)) {
      const otherwise = verdict.options?.otherwise;
      if (otherwise) this.succeed(otherwise() as T);
      else this.fail(this.rules.exhausted(verdict.budget!, verdict.error, this.spent(verdict.budget!), attempt));
      if (given) attempt.withdraw();
      return;
    }
    const delayMs = verdict.options?.delayMs ?? 0;
    if (delayMs > 0) {
      if (given) attempt.withdraw();
      clearTimeout(this.deadline);
      this.clearSilence();
      this.pause = setTimeout(pauseEnded, delayMs, this);
      return;
    }
    const next = this.launch();
    if (given && !next.joins(attempt)) attempt.withdraw();
  }

  /** @internal The pause before the next attempt ended. */
  pauseEnded(): void {
    this.pause = undefined;
    if (this.settled) return;
    try {
      this.launch();
    } catch (error) {
      this.thrown(error);
    }
  }

  /** A Retry inside `attempt` found its budget spent: the attempt is given up (gaveUp) and the job fails. */
  private giveUpFor(verdict: Retry, attempt: Attempt): void {
    try {
      this.rules.gaveUp?.(attempt, verdict.error);
      this.fail(this.rules.exhausted(verdict.budget!, verdict.error, this.spent(verdict.budget!), attempt));
    } catch (error) {
      this.fail(error);
    }
  }

  /** Spends one of the Retry's budget; false (nothing spent) when none is left. */
  private spend(verdict: Retry, attempt: Attempt): boolean {
    const budget = verdict.budget;
    if (budget === undefined) return true;
    const spent = this.spent(budget);
    if (spent >= this.rules.limit(budget)) return false;
    (this.spentCounts ??= new Map()).set(budget, spent + 1);
    this.rules.spent?.(budget, verdict.error, attempt);
    return true;
  }

  private launch(): Attempt {
    if (this.silence !== undefined) this.clearSilence();
    const previous = this.current;
    const attempt = this.rules.attempt(++this.attempts, this, previous);
    this.current = attempt;
    this.armDeadline();
    attempt.send();
    if (this.current === attempt && !this.settled) this.rules.sent?.(attempt, previous);
    return attempt;
  }

  /** (Re)starts the attempt deadline, if the rules have one. */
  private armDeadline(): void {
    const ms = this.rules.attemptTimeoutMs;
    if (ms === undefined) return;
    clearTimeout(this.deadline);
    this.deadline = setTimeout(deadlinePassed, ms, this);
  }

  /** (Re)starts the silence bound, if the rules have one. */
  private armSilence(): void {
    const ms = this.rules.silenceMs;
    if (ms === undefined) return;
    clearTimeout(this.silence);
    this.silence = setTimeout(silencePassed, ms, this);
  }

  private clearSilence(): void {
    clearTimeout(this.silence);
    this.silence = undefined;
  }

  private live(attempt: Attempt): boolean {
    return !this.settled && attempt === this.current;
  }

  /** A hook threw: the job ends with what it threw, and an attempt still live is given up and withdrawn. */
  private thrown(error: unknown): void {
    const attempt = this.current;
    this.fail(error);
    attempt?.giveUp();
    attempt?.withdraw();
  }

  private succeed(value: T): void {
    if (this.settle()) this.resolveResult(value);
  }

  private fail(error: unknown): void {
    if (this.settle()) this.rejectResult(error);
  }

  /** Marks the job ended, once (false after that); clears the deadline and the abort listener. */
  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.deadline !== undefined) clearTimeout(this.deadline);
    if (this.silence !== undefined) this.clearSilence();
    if (this.pause !== undefined) clearTimeout(this.pause);
    this.signal?.removeEventListener("abort", this);
    return true;
  }
}

function ignore(): void {}

// The timers get the run as their argument: no closure per attempt.
function deadlinePassed(run: { deadlinePassed(): void }): void {
  run.deadlinePassed();
}

function silencePassed(run: { silencePassed(): void }): void {
  run.silencePassed();
}

function pauseEnded(run: { pauseEnded(): void }): void {
  run.pauseEnded();
}
