/** What runs a job for a pool (an HTTP endpoint or a module on threads), and what it can say about it. */

export interface JobInput {
  readonly func: string;
  readonly handle: string;
  readonly unique: string;
  readonly workload: Buffer;
}

/** Progress a job may send to its client while it runs. */
export interface JobProgress {
  sendStatus(numerator: number, denominator: number): void;
  sendData(data: Uint8Array): void;
}

export type Outcome =
  /** WORK_COMPLETE with `data`. */
  | { readonly kind: "complete"; readonly data: Buffer }
  /** WORK_EXCEPTION with `data` (clients that did not ask for exceptions get WORK_FAIL). */
  | { readonly kind: "exception"; readonly data: string }
  /** WORK_FAIL: the endpoint's reply cannot complete the job; `reason` goes to the log. */
  | { readonly kind: "bad_reply"; readonly reason: string; readonly httpStatus?: number };

/**
 * Stops one running job early (max_running_time, its connection lost, serve
 * stopping). One per job, so it is a plain object with one listener rather
 * than an AbortController and its event target, which cost several
 * microseconds a job on serve's hot path.
 */
export class JobAbort {
  private why: Error | undefined;
  private listener: ((reason: Error) => void) | undefined;

  get aborted(): boolean {
    return this.why !== undefined;
  }

  get reason(): Error | undefined {
    return this.why;
  }

  /** `listener` runs once, when the job is aborted (the executor running it sets it; a later call replaces it). */
  onAbort(listener: ((reason: Error) => void) | undefined): void {
    this.listener = listener;
  }

  abort(reason: Error): void {
    if (this.why) return;
    this.why = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.(reason);
  }

  /** An AbortSignal that follows this abort, for APIs that take one. */
  toSignal(): AbortSignal {
    const controller = new AbortController();
    if (this.why) controller.abort(this.why);
    else this.onAbort((reason) => controller.abort(reason));
    return controller.signal;
  }
}

export interface JobExecutor {
  /** Runs one job. Never rejects: every failure is an Outcome. Aborting `abort` stops the work (request aborted, thread replaced). */
  run(job: JobInput, progress: JobProgress, abort: JobAbort): Promise<Outcome>;
  /** Follows a pool's new worker_count, when the executor can without being replaced (the HTTP one's socket limit). */
  resize?(slots: number): void;
  /** Releases connections and threads; jobs still running end as aborted. */
  close(): Promise<void>;
}
