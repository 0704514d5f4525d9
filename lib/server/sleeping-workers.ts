/**
 * The workers asleep (PRE_SLEEP), and which of them get a NOOP, and when.
 * A worker that found no job sends PRE_SLEEP and waits for a NOOP.
 *
 *   job queued ──► NOOP to the function's longest sleeper (one per job) ──► it GRABs: done
 *                     │                                                    └─ took another function's job
 *                     │                                                       (or none): NOOP the next sleeper
 *                     └─ not answered by the next check (50-100 ms) while jobs wait:
 *                        NOOP 1 more sleeper, then 2, then 4, then every one (a check each 50 ms)
 *
 * The common case costs one NOOP per job and no timer per job: each function
 * has one check timer, armed only while NOOPs it sent are unanswered. A NOOP
 * that a check found overdue is written off (its worker may be frozen, dead
 * behind a half-open socket, or just slow); if that worker asks later, it is
 * served like any other. A woken worker goes to the back of the line when it
 * sleeps again. A worker that asked for wake-with-job (lib/gearman/wake-with-job.ts)
 * parks a slot with each PRE_SLEEP and is handed the job itself where it would
 * get its NOOP (handOut, the scheduler's grab), one per park, going to the back
 * of the line after each. docs/job-server.md has the rule beside gearmand's.
 */
import { PacketType } from "../gearman/packet-types.js";
import type { FunctionQueue, Session } from "./scheduler-state.js";

/** How often a function's unanswered NOOPs are checked: one still unanswered at the next check is overdue. */
export const WAKE_CHECK_MS = 50;
/** More sleepers woken by consecutive checks that find a NOOP overdue while jobs wait; after these, all of them. */
export const WIDENING = [1, 2, 4] as const;

export class SleepingWorkers {
  /** Wakes nobody while set (a draining server hands out no job). */
  paused = false;
  /**
   * Hands a job to a worker that parked a slot (Session.wakeWithJob) in place of its NOOP: the scheduler's
   * grab. False when no job could be taken for it: it gets the NOOP.
   */
  handOut: ((session: Session) => boolean) | undefined = undefined;

  constructor(private readonly queues: ReadonlyMap<string, FunctionQueue>) {}

  /** PRE_SLEEP: a NOOP at once if a job it can do is queued, else it joins its functions' sleepers. */
  sleep(session: Session): void {
    // A NOOP is answered by any PRE_SLEEP, a parking one too (the worker may have asked for wake-with-job after it).
    if (session.wokenBy !== undefined) this.answered(session);
    if (session.wakeWithJob) return this.park(session);
    for (const func of session.abilities.keys()) {
      const queue = this.queues.get(func);
      if (queue !== undefined && queue.queued > 0 && !this.paused) return this.noop(session, queue, queue.wakeTick);
    }
    this.asleep(session);
  }

  /** A PRE_SLEEP of a worker that parks: a job it can do at once if one is queued, else one more parked slot. */
  private park(session: Session): void {
    if (!this.paused && this.handOut?.(session)) return;
    session.parks++;
    this.asleep(session);
  }

  /** Hands a parked slot of `session` its job; false when none could be taken. It goes to the back of the line. */
  private handParked(session: Session): boolean {
    if (this.paused || !this.handOut?.(session)) return false;
    session.parks--;
    this.awake(session);
    if (session.parks > 0) this.asleep(session);
    return true;
  }

  /** GRAB_*, after the scheduler took a job of `took` (or none) for it. */
  grabbed(session: Session, took: FunctionQueue | undefined): void {
    // A grab beside parked slots leaves them parked.
    if (session.parks === 0) this.awake(session);
    const by = session.wokenBy;
    if (by === undefined) return;
    this.answered(session);
    // Woken for a job of `by` but it took another function's, or none: that job still wants a worker.
    if (by !== took && by.queued > 0) this.wakeOne(by);
  }

  /** A job was queued (or requeued) on `queue`. */
  queued(queue: FunctionQueue): void {
    this.wakeOne(queue);
  }

  /**
   * CAN_DO: a sleeping worker sleeps for its new function too. Parked slots get jobs of it already queued
   * at once (a worker that parks sends no grab for them).
   */
  registered(session: Session, queue: FunctionQueue): void {
    if (!session.sleeping) return;
    queue.sleepers.add(session);
    while (session.parks > 0 && queue.queued > 0 && this.handParked(session));
  }

  /** CANT_DO, or the connection left. */
  unregistered(session: Session, queue: FunctionQueue): void {
    queue.sleepers.delete(session);
  }

  /** The worker gave up its parked slots (OPTION_REQ UNPARK): awake, and no job comes for them. */
  unpark(session: Session): void {
    session.parks = 0;
    this.awake(session);
  }

  /** The connection left (after unregistered() for each function): a NOOP it will never answer goes to another sleeper. */
  left(session: Session): void {
    const by = session.wokenBy;
    if (by === undefined) return;
    this.answered(session);
    if (by.queued > 0) this.wakeOne(by);
  }

  /** The function was dropped. */
  forget(queue: FunctionQueue): void {
    clearTimeout(queue.wakeCheck);
    queue.wakeCheckArmed = false;
  }

  /** Wakes nobody from now on and stops every check. */
  stop(): void {
    this.paused = true;
    for (const queue of this.queues.values()) this.forget(queue);
  }

  private awake(session: Session): void {
    if (!session.sleeping) return;
    session.sleeping = false;
    for (const func of session.abilities.keys()) this.queues.get(func)?.sleepers.delete(session);
  }

  /** Wakes the longest-sleeping worker of a function (one that parks: hands it the job). */
  private wakeOne(queue: FunctionQueue): void {
    if (this.paused) return;
    for (const worker of queue.sleepers) {
      if (worker.wakeWithJob) return void this.handParked(worker);
      this.awake(worker);
      return this.noop(worker, queue, queue.wakeTick);
    }
  }

  private asleep(session: Session): void {
    if (session.sleeping) return;
    session.sleeping = true;
    for (const func of session.abilities.keys()) this.queues.get(func)?.sleepers.add(session);
  }

  /** Sends a NOOP for a job of `queue`, counted as sent under check count `tick`. */
  private noop(session: Session, queue: FunctionQueue, tick: number): void {
    session.wokenBy = queue;
    session.wokenTick = tick;
    if (tick === queue.wakeTick) queue.awaitedNow++;
    else queue.awaitedBefore++;
    if (!queue.wakeCheckArmed) this.arm(queue);
    session.connection.packet(PacketType.NOOP);
  }

  /** The worker spoke after its NOOP (GRAB, PRE_SLEEP, or left). */
  private answered(session: Session): void {
    const queue = session.wokenBy!;
    session.wokenBy = undefined;
    const age = queue.wakeTick - session.wokenTick;
    if (age === 0) queue.awaitedNow--;
    else if (age === 1) queue.awaitedBefore--;
    // Older: a check already wrote it off.
  }

  private arm(queue: FunctionQueue): void {
    queue.wakeCheckArmed = true;
    if (queue.wakeCheck === undefined) {
      queue.wakeCheck = setTimeout(() => this.check(queue), WAKE_CHECK_MS);
      queue.wakeCheck.unref();
    } else queue.wakeCheck.refresh();
  }

  /**
   * A check: NOOPs sent before the previous check and still unanswered are
   * overdue. If one is while jobs of the function wait, wake more sleepers
   * (their NOOPs count as a check old, so the next check judges them); the
   * overdue ones are written off either way.
   */
  private check(queue: FunctionQueue): void {
    queue.wakeCheckArmed = false;
    if (this.paused) return;
    const overdue = queue.awaitedBefore > 0;
    queue.awaitedBefore = queue.awaitedNow;
    queue.awaitedNow = 0;
    queue.wakeTick++;
    if (overdue && queue.queued > 0) {
      const step = queue.escalations++;
      let more = step < WIDENING.length ? WIDENING[step] : Infinity;
      for (const worker of queue.sleepers) {
        if (worker.wakeWithJob) continue; // parked slots are handed jobs, never NOOPs
        if (more-- <= 0) break;
        this.awake(worker);
        this.noop(worker, queue, queue.wakeTick - 1);
      }
    } else queue.escalations = 0;
    if (queue.awaitedNow + queue.awaitedBefore > 0 && !queue.wakeCheckArmed) this.arm(queue);
  }
}
