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
  /** Rotates which sleeping worker is woken next. */
  private wakeCursor = 0;

  constructor(readonly name: string) {}

  get queued(): number {
    return this.queues[0].length + this.queues[1].length + this.queues[2].length;
  }

  /** Wakes one sleeping worker of this function (NOOP), rotating among them so no worker is always first. */
  wakeOne(noop: Buffer): void {
    if (this.workers.size === 0) return;
    const workers = [...this.workers];
    for (let i = 0; i < workers.length; i++) {
      const worker = workers[(this.wakeCursor + i) % workers.length];
      if (worker.sleeping) {
        this.wakeCursor = (this.wakeCursor + i + 1) % workers.length;
        worker.sleeping = false;
        worker.send(noop);
        return;
      }
    }
  }
}
