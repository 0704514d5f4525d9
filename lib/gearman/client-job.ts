/** One foreground job as the client sees it: a promise for the result plus per-job events. */
import { EventEmitter } from "node:events";
import type { Priority } from "./client-options.js";

/**
 * Events: "created"(handle), "data"(Buffer), "warning"(Buffer),
 * "status"(numerator, denominator), "exception"(Buffer),
 * "retry"(attempt, error), "failover"(fromServer, toServer).
 */
export class ClientJob extends EventEmitter {
  handle: string | undefined;
  server: string | undefined;
  /** Submissions made so far (retries and failovers included). */
  attempts = 0;
  readonly result: Promise<Buffer>;
  /** @internal */ settled = false;
  /** @internal */ resolveResult!: (data: Buffer) => void;
  /** @internal */ rejectResult!: (error: Error) => void;
  /** @internal */ canceller: ((reason?: unknown) => void) | undefined;

  constructor(
    readonly func: string,
    readonly unique: string,
    /** @internal */ readonly data: Buffer,
    /** @internal */ readonly priority: Priority,
    /** @internal */ readonly background: boolean,
    /** @internal */ readonly epoch: number | undefined,
  ) {
    super();
    this.result = new Promise<Buffer>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A caller that only listens to events must not crash the process on a rejection.
    this.result.catch(() => {});
  }

  /** Rejects the result (code ABORTED); a job still queued on the server is removed from it (admin `cancel job`). */
  cancel(reason?: unknown): void {
    this.canceller?.(reason);
  }

  /** @internal */
  finish(error: Error | undefined, data?: Buffer): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (error) this.rejectResult(error);
    else this.resolveResult(data!);
    return true;
  }
}
