/**
 * The client's one record of one submitted job: what to submit, the
 * caller's per-job options, how many attempts and failovers it made, its
 * attempt timer, the server link its current attempt is on, its handle
 * there, and how its result settles. Nothing about a job lives anywhere
 * else; the ClientJob handed to the caller only reads it.
 */
import { ClientJob, type SubmissionView } from "./client-job.js";
import type { Priority, SubmitOptions } from "./client-options.js";
import { encodePacket, encodeRawParts } from "./packet.js";
import { PacketType } from "./packet-types.js";
import type { ServerLink } from "./server-link.js";

/** What a submission asks of the client that made it. */
export interface SubmissionOwner {
  /** The one cancel route: ClientJob.cancel and the job's AbortSignal. */
  cancel(submission: Submission, reason: unknown): void;
  /** The current attempt's timeoutMs elapsed. */
  attemptTimedOut(submission: Submission): void;
  /** It waited noServerTimeoutMs for a server to connect. */
  waitedTooLong(submission: Submission): void;
}

const FOREGROUND_TYPE: Record<Priority, number> = {
  high: PacketType.SUBMIT_JOB_HIGH,
  normal: PacketType.SUBMIT_JOB,
  low: PacketType.SUBMIT_JOB_LOW,
};
const BACKGROUND_TYPE: Record<Priority, number> = {
  high: PacketType.SUBMIT_JOB_HIGH_BG,
  normal: PacketType.SUBMIT_JOB_BG,
  low: PacketType.SUBMIT_JOB_LOW_BG,
};
const ONCE = Object.freeze({ once: true });

export class Submission implements SubmissionView {
  readonly job: ClientJob;
  readonly unique: string;
  readonly timeoutMs: number | undefined;
  /** Resubmissions allowed after WORK_FAIL, WORK_EXCEPTION or a timeout. */
  readonly retries: number;
  /** Resubmissions allowed after losing the server. */
  readonly maxFailovers: number;
  readonly signal: AbortSignal | undefined;
  private readonly packetType: number;

  /** The link of the current (or, once settled, the last) attempt. */
  link: ServerLink | undefined = undefined;
  /** The handle of the current attempt, once its server answered JOB_CREATED. */
  handle: string | undefined = undefined;
  /** Waiting in the client for any server to connect (then `link` is the last one tried, if any). */
  waiting = false;
  settled = false;
  attempts = 0;
  retried = 0;
  failovers = 0;
  private attemptTimer: NodeJS.Timeout | undefined = undefined;
  private waitTimer: NodeJS.Timeout | undefined = undefined;
  private resolveResult!: (data: Buffer) => void;
  private rejectResult!: (error: Error) => void;

  /** `options` were checked by checkSubmitOptions or checkBackgroundOptions. */
  constructor(
    readonly owner: SubmissionOwner,
    readonly func: string,
    readonly data: Buffer,
    options: SubmitOptions,
    readonly background: boolean,
    readonly epoch: number | undefined,
    maxFailovers: number,
  ) {
    this.unique = options.unique ?? "";
    this.timeoutMs = options.timeoutMs;
    this.retries = options.retries ?? 0;
    this.maxFailovers = options.failovers ?? maxFailovers;
    this.signal = options.signal;
    this.packetType =
      epoch !== undefined
        ? PacketType.SUBMIT_JOB_EPOCH
        : (background ? BACKGROUND_TYPE : FOREGROUND_TYPE)[options.priority ?? "normal"];
    const result = new Promise<Buffer>((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A caller that only listens to events must not crash the process on a rejection.
    result.catch(ignore);
    this.job = new ClientJob(func, this.unique, this, result);
    this.signal?.addEventListener("abort", this, ONCE);
  }

  get server(): string | undefined {
    return this.link?.name;
  }

  /** "job H:host:42 (resize)", for messages. */
  get description(): string {
    return `job ${this.handle ?? "(not yet created)"} (${this.func})`;
  }

  cancel(reason?: unknown): void {
    this.owner.cancel(this, reason);
  }

  /** The AbortSignal fired (an EventListener object: no closure per job). */
  handleEvent(): void {
    this.owner.cancel(this, this.signal!.reason);
  }

  /** The SUBMIT_JOB* packet of one attempt, as buffers to write one after the other (a large payload is not copied: encodeRawParts). */
  encode(): Buffer[] {
    if (this.epoch !== undefined)
      return [
        encodePacket("REQ", "SUBMIT_JOB_EPOCH", {
          func: this.func,
          unique: this.unique,
          epoch: this.epoch,
          data: this.data,
        }),
      ];
    return encodeRawParts("REQ", this.packetType, [this.func, this.unique, this.data]);
  }

  /** (Re)starts the attempt timer, if the job has a timeoutMs. */
  startAttemptTimer(): void {
    if (this.timeoutMs === undefined) return;
    clearTimeout(this.attemptTimer);
    this.attemptTimer = setTimeout(attemptTimedOut, this.timeoutMs, this);
  }

  /** Starts waiting for a server (no-op while already waiting). */
  startWaiting(limitMs: number): void {
    if (this.waiting) return;
    this.waiting = true;
    this.waitTimer = setTimeout(waitedTooLong, limitMs, this);
  }

  stopWaiting(): void {
    this.waiting = false;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }

  /** Resolves or rejects the result once; clears the timers and the abort listener. */
  settle(error: Error | undefined, data?: Buffer): void {
    if (this.settled) return;
    this.settled = true;
    if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
    if (this.waiting) this.stopWaiting();
    this.signal?.removeEventListener("abort", this);
    if (error) this.rejectResult(error);
    else this.resolveResult(data!);
  }
}

function ignore(): void {}

// Timer callbacks get the submission as their argument: no closure per attempt.
function attemptTimedOut(submission: Submission): void {
  submission.owner.attemptTimedOut(submission);
}

function waitedTooLong(submission: Submission): void {
  submission.owner.waitedTooLong(submission);
}
