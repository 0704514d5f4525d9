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

export interface JobExecutor {
  /** Runs one job. Never rejects: every failure is an Outcome. Aborting `signal` stops the work (request aborted, thread replaced). */
  run(job: JobInput, progress: JobProgress, signal: AbortSignal): Promise<Outcome>;
  /** Follows a pool's new worker_count, when the executor can without being replaced (the HTTP one's socket limit). */
  resize?(slots: number): void;
  /** Releases connections and threads; jobs still running end as aborted. */
  close(): Promise<void>;
}
