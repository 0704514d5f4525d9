/**
 * A pool's slots: each runs one job at a time, as a Driveshaft thread does,
 * and there are worker_count of them. The jobs come on the pool's one
 * Gearman worker (serve-pool.ts), whose concurrency is the number of slots
 * kept; a job that arrives takes a free slot.
 *
 * A slot has a process-wide id (the Thread-ID of the status port's
 * `threads` lines), is idle or busy with one job, and is flagged for
 * removal when its pool shrinks or stops: an idle slot goes at once, a busy
 * one when its job ends.
 */

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

let nextId = 1;

export class Slots {
  private readonly slots: Slot[] = [];

  /** Slots now: idle, busy and being removed. */
  get all(): readonly Slot[] {
    return this.slots;
  }

  get busy(): number {
    let busy = 0;
    for (const slot of this.slots) if (slot.job !== undefined) busy++;
    return busy;
  }

  /** Slots that are not being removed: the pool's worker_count. */
  get kept(): number {
    let kept = 0;
    for (const slot of this.slots) if (!slot.removing) kept++;
    return kept;
  }

  /** Grows by adding idle slots; shrinks by removing idle slots, then by flagging busy ones (they go when their jobs end). */
  resize(count: number): void {
    let kept = this.kept;
    for (; kept < count; kept++) this.slots.push({ id: nextId++, job: undefined, removing: false });
    for (let i = this.slots.length - 1; i >= 0 && kept > count; i--) {
      const slot = this.slots[i];
      if (slot.removing || slot.job !== undefined) continue;
      this.slots.splice(i, 1);
      kept--;
    }
    for (let i = this.slots.length - 1; i >= 0 && kept > count; i--) {
      const slot = this.slots[i];
      if (slot.removing) continue;
      slot.removing = true;
      kept--;
    }
  }

  /**
   * A slot for a job that arrived: a free kept one. A job that a grab sent
   * before a shrink brings when none is free gets a slot made for it alone,
   * flagged for removal (it goes when the job ends).
   */
  take(job: BusySlot): Slot {
    let slot = this.slots.find((s) => s.job === undefined && !s.removing);
    if (!slot) {
      slot = { id: nextId++, job: undefined, removing: true };
      this.slots.push(slot);
    }
    slot.job = job;
    return slot;
  }

  /** The job of `slot` ended: the slot is idle again, or gone if it was being removed. */
  release(slot: Slot): void {
    slot.job = undefined;
    if (!slot.removing) return;
    const at = this.slots.indexOf(slot);
    if (at >= 0) this.slots.splice(at, 1);
  }
}
