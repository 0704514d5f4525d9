/**
 * Which sleeping workers get a NOOP, and when. A worker that found no job
 * sends PRE_SLEEP and waits for a NOOP; each queued job wakes the worker of
 * its function that has slept longest (one NOOP per job: no stampede), and
 * that worker goes to the back of the line when it sleeps again.
 */
import { PacketType } from "../gearman/packet-types.js";
import type { FunctionQueue, Session } from "./scheduler-state.js";

export class WakeUps {
  /** Wakes nobody while set (a draining server hands out no job). */
  paused = false;

  constructor(private readonly queues: ReadonlyMap<string, FunctionQueue>) {}

  /** PRE_SLEEP: a NOOP at once if a job it can do is queued, else it joins its functions' sleepers. */
  sleep(session: Session): void {
    session.woken = false;
    for (const func of session.abilities.keys()) {
      const queue = this.queues.get(func);
      if (queue !== undefined && queue.queued > 0 && !this.paused) {
        session.woken = true;
        return session.connection.packet(PacketType.NOOP);
      }
    }
    session.sleeping = true;
    for (const func of session.abilities.keys()) this.queues.get(func)?.sleepers.add(session);
  }

  /** GRAB_*: the worker is awake and has answered any NOOP it was sent. */
  grabbed(session: Session): void {
    this.awake(session);
    session.woken = false;
  }

  /** A job was queued (or requeued) on `queue`. */
  queued(queue: FunctionQueue): void {
    this.wakeOne(queue);
  }

  /** CAN_DO: a sleeping worker sleeps for its new function too. */
  registered(session: Session, queue: FunctionQueue): void {
    if (session.sleeping) queue.sleepers.add(session);
  }

  /** CANT_DO, or the connection left. */
  unregistered(session: Session, queue: FunctionQueue): void {
    queue.sleepers.delete(session);
  }

  /** The connection left (after unregistered() for each function): a NOOP it will never answer goes to another sleeper. */
  left(session: Session): void {
    if (!session.woken) return;
    session.woken = false;
    for (const func of session.abilities.keys()) {
      const queue = this.queues.get(func);
      if (queue && queue.queued > 0) this.wakeOne(queue);
    }
  }

  private awake(session: Session): void {
    if (!session.sleeping) return;
    session.sleeping = false;
    for (const func of session.abilities.keys()) this.queues.get(func)?.sleepers.delete(session);
  }

  /** Wakes the longest-sleeping worker of a function. */
  private wakeOne(queue: FunctionQueue): void {
    if (this.paused) return;
    for (const worker of queue.sleepers) {
      this.awake(worker);
      worker.woken = true;
      worker.connection.packet(PacketType.NOOP);
      return;
    }
  }
}
