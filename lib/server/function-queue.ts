/** Everything the server keeps per function name: queued jobs by priority, the unique index, the workers that can do it. */
import { Fifo } from "./fifo.js";
import type { Job } from "./job.js";
import type { Peer } from "./peer.js";

export class FunctionQueue {
  /** Queued jobs, index = Priority (high, normal, low). */
  readonly queues = [new Fifo<Job>(), new Fifo<Job>(), new Fifo<Job>()] as const;
  /** Jobs with a non-empty unique id, queued or running. */
  readonly unique = new Map<string, Job>();
  readonly workers = new Set<Peer>();
  running = 0;
  /** Queue limits per priority from `maxqueue` (0: none), or undefined for the server default. */
  maxQueue: [number, number, number] | undefined;
  constructor(readonly name: string) {}

  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /**
   * Wakes one sleeping worker of this function (NOOP). The woken worker moves
   * to the back of the set, so sleeping workers are woken in turn, one per job.
   */
  wakeOne(noop: Buffer): void {
    for (const worker of this.workers) {
      if (!worker.sleeping) continue;
      worker.sleeping = false;
      this.workers.delete(worker);
      this.workers.add(worker);
      worker.send(noop);
      return;
    }
  }
}
