/** One job as the caller of GearmanClient.submitJob sees it: a promise for the result plus per-job events. */
import { EventEmitter } from "node:events";

/** What a ClientJob shows of the retry engine's run of its job (retry-run.ts). */
export interface JobView {
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
  readonly #run: JobView;
  /** Resolves with the WORK_COMPLETE data; rejects with a GearmanError (JobError for WORK_FAIL and WORK_EXCEPTION). */
  readonly result: Promise<Buffer>;

  /** Made by GearmanClient, one per submitted job. */
  constructor(
    readonly func: string,
    readonly unique: string,
    run: JobView,
    result: Promise<Buffer>,
  ) {
    super();
    this.#run = run;
    this.result = result;
  }

  /** The server's job handle once it answered JOB_CREATED (a new one after a retry or failover). */
  get handle(): string | undefined {
    return this.#run.handle;
  }

  /** "host:port" of the server the job was last submitted to. */
  get server(): string | undefined {
    return this.#run.server;
  }

  /** Submissions made so far (retries and failovers included). */
  get attempts(): number {
    return this.#run.attempts;
  }

  /** Rejects the result (code ABORTED); the job is cancelled on its server (admin `cancel job`) if it got there. Does nothing once the job has settled. */
  cancel(reason?: unknown): void {
    this.#run.cancel(reason);
  }
}
