/** A job held by the server, from submission until a terminal packet (or its drop). */
import type { Peer } from "./peer.js";

export const enum Priority {
  High = 0,
  Normal = 1,
  Low = 2,
}

export const PRIORITY_NAMES = ["high", "normal", "low"] as const;

export class Job {
  /** Clients waiting for this job's result (foreground jobs only). */
  readonly clients = new Set<Peer>();
  worker: Peer | undefined;
  numerator = "0";
  denominator = "0";
  /** Times a worker dropped it. */
  retries = 0;
  /** Set while the job waits for its SUBMIT_JOB_EPOCH time. */
  timer: NodeJS.Timeout | undefined;
  /** Set while a worker that registered with CAN_DO_TIMEOUT holds it. */
  workTimer: NodeJS.Timeout | undefined;
  /** False once finished or dropped: late packets about it are ignored. */
  live = true;

  constructor(
    readonly handle: string,
    readonly func: string,
    readonly unique: string,
    readonly data: Buffer,
    readonly priority: Priority,
    readonly background: boolean,
    readonly epoch: number,
  ) {}
}
