/** What the scheduler shows of its state to the admin commands: snapshots, never the records themselves. */
import type { FailureReason, FunctionQueue, Job, Session } from "./scheduler-state.js";

/** A function as admin `status` and `prioritystatus` show it. */
export interface FunctionSummary {
  readonly name: string;
  /** Queued, running and waiting for their epoch. */
  readonly total: number;
  readonly running: number;
  /** Queued now, by priority: high, normal, low. */
  readonly queued: readonly [number, number, number];
  /** Waiting for their epoch. */
  readonly scheduled: number;
  /** Connections registered for it. */
  readonly workers: number;
}

/** A function's job counts since the server started (the metrics' counters). */
export interface FunctionCounts {
  readonly name: string;
  /** Jobs accepted, [priority: high, normal, low][background ? 1 : 0]. */
  readonly submitted: readonly (readonly [number, number])[];
  /** Jobs that ended with WORK_COMPLETE. */
  readonly completed: number;
  /** Jobs that ended without a result, by why. */
  readonly failed: Readonly<Record<FailureReason, number>>;
}

/** A job as admin `show jobs` and `show unique jobs` show it. */
export interface JobSummary {
  readonly handle: string;
  readonly unique: string;
  /** Times a worker lost it. */
  readonly retries: number;
  /** A foreground job whose clients all left. */
  readonly abandoned: boolean;
  readonly background: boolean;
}

/** A connection as admin `workers` shows it. */
export interface SessionSummary {
  readonly id: number;
  readonly address: string;
  readonly clientId: string;
  /** In registration order. */
  readonly functions: readonly string[];
}

/** What admin `drop function` did. */
export type DropResult = "dropped" | "unknown" | "in use";

export function functionSummary(queue: FunctionQueue): FunctionSummary {
  const [high, normal, low] = queue.queues;
  return {
    name: queue.name,
    total: queue.total,
    running: queue.running,
    queued: [high.length, normal.length, low.length],
    scheduled: queue.scheduled,
    workers: queue.workers.size,
  };
}

/** What the metrics read of a function at a scrape: its queues and its counts, in one pass. */
export type FunctionFigures = FunctionSummary & FunctionCounts;

export function functionFigures(queue: FunctionQueue): FunctionFigures {
  const [high, normal, low] = queue.queues;
  const counters = queue.counters;
  return {
    name: queue.name,
    total: queue.total,
    running: queue.running,
    queued: [high.length, normal.length, low.length],
    scheduled: queue.scheduled,
    workers: queue.workers.size,
    submitted: counters.submitted.map(([foreground, background]) => [foreground, background] as const),
    completed: counters.completed,
    failed: { ...counters.failed },
  };
}

export function jobSummary(job: Job, handle: string): JobSummary {
  return { handle, unique: job.unique, retries: job.retries, abandoned: job.abandoned, background: job.background };
}

export function sessionSummary(session: Session): SessionSummary {
  return {
    id: session.id,
    address: session.connection.address,
    clientId: session.clientId,
    functions: [...session.abilities.keys()],
  };
}
