/**
 * One attempt at a job: a single SUBMIT_JOB* to one job server, and what
 * became of it. It never retries, fails over or times out by itself: it
 * reports each step to its observer (the retry engine, retry-run.ts), which
 * decides what comes next. The client places it on a server and routes the
 * server's answers to it (client.ts); its only timer is the client's
 * noServerTimeoutMs while it waits for any server to be connected.
 */
import { encodePacket, encodeRawParts } from "./packet.js";
import { PacketType } from "./packet-types.js";
import type { Attempt, AttemptObserver, AttemptOptions } from "./retry-rules.js";
import type { ServerLink } from "./server-link.js";

/** What a submission asks of the client that made it. */
export interface SubmissionOwner {
  /** Places it on a connected server, or lets it wait for one. */
  start(submission: Submission): void;
  /** Takes it off its server link (or out of the waiting set): it reports nothing more. */
  giveUp(submission: Submission): void;
  /** Cancels it on its server (after giveUp). */
  withdraw(submission: Submission): void;
  /** It waited noServerTimeoutMs for a server to connect. */
  waitedTooLong(submission: Submission): void;
}

const FOREGROUND_TYPE = {
  high: PacketType.SUBMIT_JOB_HIGH,
  normal: PacketType.SUBMIT_JOB,
  low: PacketType.SUBMIT_JOB_LOW,
};
const BACKGROUND_TYPE = {
  high: PacketType.SUBMIT_JOB_HIGH_BG,
  normal: PacketType.SUBMIT_JOB_BG,
  low: PacketType.SUBMIT_JOB_LOW_BG,
};

export class Submission implements Attempt {
  readonly unique: string;
  readonly background: boolean;
  private readonly epoch: number | undefined;
  private readonly packetType: number;

  /** The link it was sent on (it waits for a server while undefined). */
  link: ServerLink<Submission> | undefined = undefined;
  /** The handle its server answered JOB_CREATED with. */
  handle: string | undefined = undefined;
  /** Waiting in the client for any server to connect. */
  waiting = false;
  /** It reported its end, or was given up: it reports nothing more. */
  settled = false;
  /** Given up while live (not after its end). */
  givenUp = false;
  /** Withdrawn (once is enough). */
  withdrawn = false;
  /** Withdrawn before its JOB_CREATED: cancelled once that arrives. */
  withdrawOnCreated = false;
  private waitTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly owner: SubmissionOwner,
    readonly observer: AttemptObserver,
    readonly func: string,
    readonly data: Buffer,
    options: AttemptOptions,
    /** Which attempt of its job this is (1 for the first), for messages. */
    readonly ordinal: number,
  ) {
    this.unique = options.unique ?? "";
    this.background = options.background ?? false;
    this.epoch = options.epoch;
    this.packetType =
      this.epoch !== undefined
        ? PacketType.SUBMIT_JOB_EPOCH
        : (this.background ? BACKGROUND_TYPE : FOREGROUND_TYPE)[options.priority ?? "normal"];
  }

  get server(): string | undefined {
    return this.link?.name;
  }

  get serverQuiet(): boolean {
    return this.link?.connection.quiet ?? false;
  }

  /** "job H:host:42 (resize)", for messages. */
  get description(): string {
    return `job ${this.handle ?? "(not yet created)"} (${this.func})`;
  }

  send(): void {
    this.owner.start(this);
  }

  giveUp(): void {
    this.owner.giveUp(this);
  }

  withdraw(): void {
    this.owner.withdraw(this);
  }

  joins(other: Attempt): boolean {
    return (
      this.unique !== "" && this.unique === other.unique && this.link !== undefined && this.server === other.server
    );
  }

  /** The SUBMIT_JOB* packet, as buffers to write one after the other (a large payload is not copied: encodeRawParts). */
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

  /** Starts waiting for a server (no-op while already waiting); `false`: no limit of its own. */
  startWaiting(limitMs: number | false): void {
    if (this.waiting) return;
    this.waiting = true;
    if (limitMs !== false) this.waitTimer = setTimeout(waitedTooLong, limitMs, this);
  }

  stopWaiting(): void {
    this.waiting = false;
    clearTimeout(this.waitTimer);
    this.waitTimer = undefined;
  }
}

// The timer callback gets the submission as its argument: no closure per attempt.
function waitedTooLong(submission: Submission): void {
  submission.owner.waitedTooLong(submission);
}
