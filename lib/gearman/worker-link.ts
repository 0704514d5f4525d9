/**
 * A GearmanWorker's state on one server connection: its grabs, whether it
 * sleeps, the jobs it came with, and its parked slot when the server hands
 * jobs in place of NOOPs (lib/gearman/wake-with-job.ts):
 *
 *   ask WAKE_WITH_JOB ──OPTION_RES──► parks ──(ERROR UNKNOWN_OPTION: gearmand)──► sleeps as ever
 *   NO_JOB for its last grab ──► PRE_SLEEP, its slot parked (still counted as a grab)
 *   JOB_ASSIGN_UNIQ or NOOP while parked ──► the park is answered ──► awake
 *   unpark (stop, pause) ──OPTION_REQ UNPARK──► OPTION_RES: the park is given up, unless a job answered it first
 */
import { encodePacket } from "./packet.js";
import type { ServerConnection } from "./connection.js";
import type { WorkerJob } from "./worker-job.js";
import { UNPARK, WAKE_WITH_JOB } from "./wake-with-job.js";

export class WorkerLink {
  /** GRAB_JOB_UNIQs sent and not answered yet, a parked slot included. */
  grabs = 0;
  /** A NO_JOB came while other grabs were still out: no new grab here until a job comes or they are answered (then PRE_SLEEP). */
  drained = false;
  /** PRE_SLEEP sent; waiting for NOOP (or, parked, a job). */
  sleeping = false;
  /** The server hands this worker jobs in place of NOOPs: each PRE_SLEEP parks a slot. */
  wakeWithJob = false;
  /** WAKE_WITH_JOB asked and not answered yet: the next OPTION_RES or ERROR answers it. */
  private asked = false;
  /** A PRE_SLEEP's slot is parked: counted in `grabs` until a job, a NOOP or an unpark answers it. */
  parked = false;
  /** UNPARK sent and not answered yet. */
  private unparking = false;
  /** Jobs from this connection whose handlers have not settled, with when (performance.now()) they came. */
  readonly jobs = new Map<WorkerJob, number>();
  connection!: ServerConnection;

  /** A new connection: nothing out, nothing parked; asks for jobs in place of NOOPs when `wakeWithJob`. */
  connected(wakeWithJob: boolean): void {
    this.grabs = 0;
    this.drained = false;
    this.sleeping = false;
    this.parked = false;
    this.unparking = false;
    this.wakeWithJob = false;
    this.asked = wakeWithJob;
    if (wakeWithJob) this.connection.send(encodePacket("REQ", "OPTION_REQ", { option: WAKE_WITH_JOB }));
  }

  /** The server may have a job for this worker again: grabs may be sent. */
  wake(): void {
    this.sleeping = false;
    this.drained = false;
  }

  /** Its last grab found no job: PRE_SLEEP, parking the grab's slot when the server hands jobs in place of NOOPs. */
  sleep(): void {
    this.sleeping = true;
    if (this.wakeWithJob) {
      this.grabs++;
      this.parked = true;
    }
    this.connection.send(encodePacket("REQ", "PRE_SLEEP", {}));
  }

  /** A job or a NOOP came: a parked slot, if any, is answered by it (a job then takes the slot). */
  woken(): void {
    this.sleeping = false;
    if (!this.parked) return;
    this.parked = false;
    this.grabs--;
  }

  /** Gives the parked slot up (the worker stops or pauses); the server answers once any job the park brought was sent. */
  unpark(): void {
    if (!this.parked || this.unparking) return;
    this.unparking = true;
    this.connection.send(encodePacket("REQ", "OPTION_REQ", { option: UNPARK }));
  }

  /**
   * An OPTION_RES (its option) or an ERROR UNKNOWN_OPTION (undefined): true when it answers one of this
   * link's own requests (consumed here). The ERROR is gearmand's answer to WAKE_WITH_JOB: the worker sleeps
   * as ever.
   */
  answered(option: string | undefined): boolean {
    if (this.asked && (option === WAKE_WITH_JOB || option === undefined)) {
      this.asked = false;
      this.wakeWithJob = option === WAKE_WITH_JOB;
      return true;
    }
    if (option === UNPARK && this.unparking) {
      this.unparking = false;
      if (this.parked) {
        this.parked = false;
        this.grabs--;
        this.sleeping = false;
      }
      return true;
    }
    return false;
  }
}
