/** Everything the server keeps per function name: queued jobs by priority, the unique index, the workers that can do it. */
import { Fifo } from "./fifo.js";
import type { Job } from "./job.js";
import type { Peer } from "./peer.js";

export class FunctionQueue {
  /** Queued jobs, index = Priority (high, normal, low). */
  readonly queues = [new Fifo<Job>(), new Fifo<Job>(), new Fifo<Job>()] as const;
  /** Live jobs with a non-empty unique, by uniqueKey(), queued or running. */
  readonly unique = new Map<string, Job>();
  readonly workers = new Set<Peer>();
  /** Workers of this function asleep (PRE_SLEEP), longest asleep first. */
  readonly sleepers = new Set<Peer>();
  running = 0;
  /** SUBMIT_JOB_EPOCH jobs waiting for their time. */
  scheduled = 0;
  /** Limits per priority from admin `maxqueue` (0: none), or undefined for the server default. */
  maxQueue: readonly [number, number, number] | undefined = undefined;

  constructor(readonly name: string) {}

  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /** Every job of this function the server holds (admin `status` TOTAL; what `maxqueue` limits, as gearmand). */
  get total(): number {
    return this.queued + this.running + this.scheduled;
  }
}
