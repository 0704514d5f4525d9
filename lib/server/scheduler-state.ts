/**
 * What the scheduler keeps: a Job per job it holds, a FunctionQueue per
 * function name, a Session per connection. They point at one another (a job
 * at its queue, its clients and its worker; a queue at its jobs and workers;
 * a session at the jobs it holds or waits for), so they live in one module.
 *
 * Kept small: a million queued background jobs are a million Jobs. Function
 * names and unique ids are byte strings (latin1), and so is a small payload;
 * a job's handle is derived from its numeric id, and its rarely used state
 * lives in `extra`.
 */
import { Fifo } from "./fifo.js";
import { payloadString, type JobData } from "./payload.js";
import type { Connection } from "./connection.js";

export const enum Priority {
  High = 0,
  Normal = 1,
  Low = 2,
}

/** State most jobs never need. */
export interface JobExtra {
  /** Last WORK_STATUS, for GET_STATUS. */
  numerator: string;
  denominator: string;
  /** SUBMIT_JOB_EPOCH time, seconds since 1970 (0: none). */
  epoch: number;
  /** SUBMIT_REDUCE_JOB reducer ("" for none). */
  reducer: string;
  /** Set while the job waits for its epoch. */
  epochTimer: NodeJS.Timeout | undefined;
  /** Set while a worker that registered with CAN_DO_TIMEOUT holds it. */
  workTimer: NodeJS.Timeout | undefined;
  /** Cancelled (admin `cancel job`) while a worker held it: its result goes nowhere, and it is never handed out again. */
  cancelled: boolean;
}

/** A job, from submission until a terminal packet, its cancellation or its drop. */
export class Job {
  /** Clients waiting for this job's result; undefined while there are none. */
  clients: Session[] | undefined = undefined;
  worker: Session | undefined = undefined;
  /** Times a worker lost it (disconnect or CAN_DO_TIMEOUT). */
  retries = 0;
  /** False once finished, cancelled or dropped: late packets about it are refused. */
  live = true;
  extra: JobExtra | undefined = undefined;

  constructor(
    readonly id: number,
    readonly queue: FunctionQueue,
    /** As sent by the client ("-" stays "-"). */
    readonly unique: string,
    readonly data: JobData,
    readonly priority: Priority,
    readonly background: boolean,
  ) {}

  get epoch(): number {
    return this.extra?.epoch ?? 0;
  }

  get reducer(): string {
    return this.extra?.reducer ?? "";
  }

  /** The job's extra state, created on first use. */
  more(): JobExtra {
    return (this.extra ??= {
      numerator: "0",
      denominator: "0",
      epoch: 0,
      reducer: "",
      epochTimer: undefined,
      workTimer: undefined,
      cancelled: false,
    });
  }

  addClient(session: Session): void {
    if (this.clients === undefined) this.clients = [session];
    else if (!this.clients.includes(session)) this.clients.push(session);
    session.waiting.add(this);
  }

  removeClient(session: Session): void {
    const clients = this.clients;
    if (clients === undefined) return;
    const at = clients.indexOf(session);
    if (at >= 0) clients.splice(at, 1);
    if (clients.length === 0) this.clients = undefined;
  }

  /** A foreground job nobody waits for any more, or a cancelled one (admin `show jobs` calls it ignored). */
  get abandoned(): boolean {
    return (!this.background && this.clients === undefined) || this.extra?.cancelled === true;
  }
}

/** The unique-index key: a unique of "-" means "the payload is the unique", in a space of its own (as gearmand). */
export function uniqueKey(unique: string, data: JobData): string {
  return unique === "-" ? `\0${payloadString(data)}` : unique;
}

/** Why a job ended without a result, as the metrics label it. */
export type FailureReason = "fail" | "exception" | "worker_lost" | "cancelled";
export const FAILURE_REASONS: readonly FailureReason[] = ["fail", "exception", "worker_lost", "cancelled"];

/** What a function's jobs did since the server started: plain counts, read by the metrics at scrape time. */
export class FunctionCounters {
  /** Jobs accepted, [priority][background ? 1 : 0]. */
  readonly submitted = [
    [0, 0],
    [0, 0],
    [0, 0],
  ];
  completed = 0;
  readonly failed: Record<FailureReason, number> = { fail: 0, exception: 0, worker_lost: 0, cancelled: 0 };
}

/** Everything kept per function name: queued jobs by priority, the unique index, the workers that can do it. */
export class FunctionQueue {
  readonly counters = new FunctionCounters();
  /** Queued jobs, index = Priority (high, normal, low). */
  readonly queues = [new Fifo<Job>(), new Fifo<Job>(), new Fifo<Job>()] as const;
  /** Live jobs with a non-empty unique, by uniqueKey(), queued or running. */
  readonly unique = new Map<string, Job>();
  readonly workers = new Set<Session>();
  /** Workers of this function asleep (PRE_SLEEP), longest asleep first. */
  readonly sleepers = new Set<Session>();
  running = 0;
  /** SUBMIT_JOB_EPOCH jobs waiting for their time. */
  scheduled = 0;
  /** Limits per priority from admin `maxqueue` (0: none), or undefined for the server default. */
  maxQueue: readonly [number, number, number] | undefined = undefined;
  // Wake-up bookkeeping (sleeping-workers.ts): which NOOPs this function sent are still unanswered, and for how long.
  /** Counts the checks of unanswered NOOPs; a NOOP is stamped with the count it was sent under. */
  wakeTick = 0;
  /** Unanswered NOOPs sent since the last check. */
  awaitedNow = 0;
  /** Unanswered NOOPs sent before the last check: a full check interval old. */
  awaitedBefore = 0;
  /** Checks in a row that found a NOOP overdue while jobs waited: how far the wake-ups have widened. */
  escalations = 0;
  /** The one timer of these checks, armed while NOOPs are unanswered. */
  wakeCheck: NodeJS.Timeout | undefined = undefined;
  wakeCheckArmed = false;

  constructor(readonly name: string) {}

  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /** Every job of this function held (admin `status` TOTAL; what `maxqueue` limits, as gearmand). */
  get total(): number {
    return this.queued + this.running + this.scheduled;
  }
}

/** One connection as the scheduler sees it: a client, a worker, or both (the protocol allows it). */
export class Session {
  /** SET_CLIENT_ID, "-" until set (admin `workers`). */
  clientId = "-";
  /** Sent OPTION_REQ "exceptions": gets WORK_EXCEPTION rather than WORK_FAIL. */
  exceptions = false;
  /** Functions this worker can do, with their CAN_DO_TIMEOUT in ms (0: none), in registration order. */
  readonly abilities = new Map<string, number>();
  /** Sent PRE_SLEEP and has not grabbed since. */
  sleeping = false;
  /** Asked for jobs in place of NOOPs (lib/gearman/wake-with-job.ts): each PRE_SLEEP parks a slot. */
  wakeWithJob = false;
  /** Its parked slots: PRE_SLEEPs (wakeWithJob) not answered with a job yet. In the sleepers while any. */
  parks = 0;
  /** The function whose job this worker was sent a NOOP for, while it has not grabbed since. */
  wokenBy: FunctionQueue | undefined = undefined;
  /** Its wakeTick when that NOOP was sent. */
  wokenTick = 0;
  /** Jobs this worker holds now. */
  readonly held = new Set<Job>();
  /** Foreground jobs this client waits for. */
  readonly waiting = new Set<Job>();

  constructor(
    /** Numbered in connection order (the first column of admin `workers`). */
    readonly id: number,
    readonly connection: Connection,
  ) {}
}
