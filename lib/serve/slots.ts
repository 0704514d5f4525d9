/**
 * A pool's slots: each runs one job at a time. A slot has a process-wide id
 * (the Thread-ID of the status port's `threads` lines), is idle or busy with
 * one job, and is flagged for removal when its pool shrinks or stops (a busy
 * one is removed when its job ends).
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

  constructor(count: number) {
    this.resize(count);
  }

  /** Slots now: idle, busy and being removed. */
  get all(): readonly Slot[] {
    return this.slots;
  }

  get busy(): number {
    return this.slots.filter((slot) => slot.job !== undefined).length;
  }

  /** Slots that are not being removed: the pool's worker_count once a resize settled. */
  get kept(): number {
    return this.slots.filter((slot) => !slot.removing).length;
  }

  /** Grows by adding idle slots, shrinks by removing idle slots first and flagging busy ones. Running jobs are never touched. */
  resize(count: number): void {
    let kept = this.kept;
    while (kept < count) {
      const flagged = this.slots.find((slot) => slot.removing);
      if (flagged) flagged.removing = false;
      else this.slots.push({ id: nextId++, job: undefined, removing: false });
      kept++;
    }
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

  /** Takes an idle slot for a job (one flagged for removal when a job arrives after a shrink). */
  take(job: BusySlot): Slot {
    let slot = this.slots.find((s) => s.job === undefined && !s.removing);
    if (!slot) {
      slot = { id: nextId++, job: undefined, removing: true };
      this.slots.push(slot);
    }
    slot.job = job;
    return slot;
  }

  /** The job on `slot` ended: it is idle again, or gone if it was being removed. */
  release(slot: Slot): void {
    slot.job = undefined;
    if (slot.removing) this.slots.splice(this.slots.indexOf(slot), 1);
  }

  /** Flags every slot for removal (the pool is stopping): idle ones go at once. */
  removeAll(): void {
    this.resize(0);
  }
}
