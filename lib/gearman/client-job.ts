/** One job as the caller of GearmanClient.submitJob sees it: a promise for the result plus per-job events. */
import { EventEmitter } from "node:events";

/** What a ClientJob shows of the client's record of its submission. */
export interface SubmissionView {
  readonly handle: string | undefined;
  readonly server: string | undefined;
  readonly attempts: number;
  cancel(reason?: unknown): void;
}

/**
 * Events: "created"(handle), "data"(Buffer), "warning"(Buffer),
 * "status"(numerator, denominator), "exception"(Buffer),
 * "retry"(attempt, error), "failover"(fromServer, toServer).
 */
export class ClientJob extends EventEmitter {
  readonly #submission: SubmissionView;
  /** Resolves with the WORK_COMPLETE data; rejects with a GearmanError (JobError for WORK_FAIL and WORK_EXCEPTION). */
  readonly result: Promise<Buffer>;

  /** Made by GearmanClient, one per submission. */
  constructor(
    readonly func: string,
    readonly unique: string,
    submission: SubmissionView,
    result: Promise<Buffer>,
  ) {
    super();
    this.#submission = submission;
    this.result = result;
  }

  /** The server's job handle once it answered JOB_CREATED (a new one after a retry or failover). */
  get handle(): string | undefined {
    return this.#submission.handle;
  }

  /** "host:port" of the server the job was last submitted to. */
  get server(): string | undefined {
    return this.#submission.server;
  }

  /** Submissions made so far (retries and failovers included). */
  get attempts(): number {
    return this.#submission.attempts;
  }

  /** Rejects the result (code ABORTED); the job is cancelled on its server (admin `cancel job`) if it got there. Does nothing once the job has settled. */
  cancel(reason?: unknown): void {
    this.#submission.cancel(reason);
  }
}
