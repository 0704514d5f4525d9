/**
 * A pool's slots. A slot runs one job at a time on a Gearman worker of its
 * own (concurrency 1, one connection to every job server), as a Driveshaft
 * thread does: every idle slot has its own GRAB_JOB or PRE_SLEEP standing at
 * each server, so a queued job goes to a free slot in one round trip
 * instead of waiting behind the grabs of the pool's other slots (one worker
 * for the whole pool grabs once per server at a time, which capped a pool
 * at one job per job server round trip).
 *
 * A slot has a process-wide id (the Thread-ID of the status port's
 * `threads` lines), is idle or busy with one job, and is flagged for
 * removal when its pool shrinks or stops: its worker stops taking jobs, the
 * job it runs (or one a grab already on its way brings) finishes, then the
 * slot is gone.
 */
import type { GearmanWorker } from "../gearman/index.js";

export interface BusySlot {
  readonly func: string;
  readonly handle: string;
  readonly unique: string;
  readonly startedAt: number;
}

export interface Slot {
  readonly id: number;
  job: BusySlot | undefined;
  removing: boolean;
}

export interface SlotsOptions {
  /** A worker for `slot`, its functions registered, not started. */
  readonly makeWorker: (slot: Slot) => GearmanWorker;
  /** How long a removed slot's running job may go on before its connections close (ms). */
  readonly drainMs: () => number;
}

let nextId = 1;

export class Slots {
  private readonly slots: Slot[] = [];
  private readonly workers = new Map<Slot, GearmanWorker>();
  private readonly removals = new Set<Promise<void>>();
  private started = false;

  constructor(private readonly options: SlotsOptions) {}

  /** Slots now: idle, busy and being removed. */
  get all(): readonly Slot[] {
    return this.slots;
  }

  get busy(): number {
    let busy = 0;
    for (const slot of this.slots) if (slot.job !== undefined) busy++;
    return busy;
  }

  /** Slots that are not being removed: the pool's worker_count once a resize settled. */
  get kept(): number {
    let kept = 0;
    for (const slot of this.slots) if (!slot.removing) kept++;
    return kept;
  }

  /** The worker of `slot`, until the slot is gone. */
  workerOf(slot: Slot): GearmanWorker | undefined {
    return this.workers.get(slot);
  }

  /** The slots that are not being removed, with their workers (to register or unregister functions on). */
  live(): [Slot, GearmanWorker][] {
    return [...this.workers].filter(([slot]) => !slot.removing);
  }

  /** Connects every slot's worker; slots added later connect as they are added. */
  start(): void {
    this.started = true;
    for (const worker of this.workers.values()) worker.start();
  }

  /** Grows by adding slots, shrinks by removing idle slots first, then busy ones (their jobs finish first). */
  resize(count: number): void {
    let kept = this.kept;
    for (; kept < count; kept++) {
      const slot: Slot = { id: nextId++, job: undefined, removing: false };
      const worker = this.options.makeWorker(slot);
      this.slots.push(slot);
      this.workers.set(slot, worker);
      if (this.started) worker.start();
    }
    for (const wantIdle of [true, false]) {
      for (let i = this.slots.length - 1; i >= 0 && kept > count; i--) {
        const slot = this.slots[i];
        if (slot.removing || (slot.job === undefined) !== wantIdle) continue;
        this.remove(slot);
        kept--;
      }
    }
  }

  private remove(slot: Slot): void {
    slot.removing = true;
    const worker = this.workers.get(slot)!;
    const removal = worker.stop({ deadlineMs: this.options.drainMs() }).finally(() => {
      this.workers.delete(slot);
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      this.removals.delete(removal);
    });
    this.removals.add(removal);
  }

  /** Removes every slot (the pool is stopping); resolves when their jobs ended and their connections are closed. */
  async removeAll(): Promise<void> {
    this.resize(0);
    while (this.removals.size > 0) await Promise.all(this.removals);
  }

  /** Closes every slot's connections at once (running jobs are abandoned). */
  async closeAll(): Promise<void> {
    for (const slot of this.slots) slot.removing = true;
    const workers = [...this.workers.values()];
    await Promise.all(workers.map((worker) => worker.close()));
    while (this.removals.size > 0) await Promise.all(this.removals);
  }
}
