/**
 * A GearmanWorker's state on one server connection: its grabs, whether it
 * sleeps, the jobs it came with, and its parked slots when the server hands
 * jobs in place of NOOPs (lib/gearman/wake-with-job.ts):
 *
 *   ask WAKE_WITH_JOB ──OPTION_RES──► parks ──(ERROR UNKNOWN_OPTION: gearmand)──► grabs and sleeps as ever
 *   parks: each free slot is asked for with PRE_SLEEP, a standing grab: the server answers it with a job,
 *          now or whenever one comes, never with NO_JOB; JOB_ASSIGN answers plain grabs first (FIFO), then parks
 *   unpark (stop, pause) ──OPTION_REQ UNPARK──► OPTION_RES: every park made before it and not answered by a
 *          job before the OPTION_RES is given up (the server answers in order; parks made after it stay)
 */
import { encodePacket } from "./packet.js";
import type { ServerConnection } from "./connection.js";
import type { WorkerJob } from "./worker-job.js";
import { UNPARK, WAKE_WITH_JOB } from "./wake-with-job.js";

const GRAB = encodePacket("REQ", "GRAB_JOB_UNIQ", {});
const PRE_SLEEP = encodePacket("REQ", "PRE_SLEEP", {});

export class WorkerLink {
  /** GRAB_JOB_UNIQs sent and not answered yet. */
  grabs = 0;
  /** Slots parked (PRE_SLEEPs the server answers with a job when one comes), not answered yet. */
  parks = 0;
  /** A NO_JOB came while other grabs were still out: no new grab here until a job comes or they are answered (then PRE_SLEEP). */
  drained = false;
  /** PRE_SLEEP sent (not parking); waiting for NOOP. */
  sleeping = false;
  /** The server hands this worker jobs in place of NOOPs: free slots are parked rather than grabbed for. */
  wakeWithJob = false;
  /** WAKE_WITH_JOB asked and not answered yet: the next OPTION_RES or ERROR UNKNOWN_OPTION answers it. */
  private asked = false;
  /**
   * Per UNPARK sent and not answered yet, oldest first: the parks it withdraws that no job answered since
   * (jobs answer the oldest parks first). Its OPTION_RES gives them up.
   */
  private readonly unparking: number[] = [];
  /** Jobs from this connection whose handlers have not settled, with when (performance.now()) they came. */
  readonly jobs = new Map<WorkerJob, number>();
  connection!: ServerConnection;

  /** Grabs and parks out: each holds a slot. */
  get outstanding(): number {
    return this.grabs + this.parks;
  }

  /** A new connection: nothing out; asks for jobs in place of NOOPs when `wakeWithJob`. */
  connected(wakeWithJob: boolean): void {
    this.grabs = 0;
    this.parks = 0;
    this.drained = false;
    this.sleeping = false;
    this.unparking.length = 0;
    this.wakeWithJob = false;
    this.asked = wakeWithJob;
    if (wakeWithJob) this.connection.send(encodePacket("REQ", "OPTION_REQ", { option: WAKE_WITH_JOB }));
  }

  /** The connection is gone: whatever was out is lost with it. */
  lost(): void {
    this.grabs = 0;
    this.parks = 0;
    this.unparking.length = 0;
    this.drained = false;
    this.sleeping = false;
  }

  /** The server may have a job for this worker again: grabs may be sent. */
  wake(): void {
    this.sleeping = false;
    this.drained = false;
  }

  /** Asks for a job for one free slot: a park where the server hands jobs in place of NOOPs, else a grab. */
  request(): void {
    if (this.wakeWithJob) this.parks++;
    else this.grabs++;
    this.connection.send(this.wakeWithJob ? PRE_SLEEP : GRAB);
  }

  /** JOB_ASSIGN*: answers a grab (they are answered first) or else a park; false when nothing was out. */
  assigned(): boolean {
    if (this.grabs > 0) this.grabs--;
    else if (this.parks > 0) {
      this.parks--;
      // The server answers in order: a job before an UNPARK's OPTION_RES answered one of the parks it withdraws.
      const at = this.unparking.findIndex((n) => n > 0);
      if (at >= 0) this.unparking[at]--;
    } else return false;
    return true;
  }

  /** NO_JOB: answers a grab; false when none was out. */
  noJob(): boolean {
    if (this.grabs === 0) return false;
    this.grabs--;
    return true;
  }

  /** Its last grab found no job (a worker that does not park): PRE_SLEEP, then wait for a NOOP. */
  sleep(): void {
    this.sleeping = true;
    this.connection.send(PRE_SLEEP);
  }

  /** Gives the parked slots up (the worker stops or pauses); the server answers once any job a park brought was sent. */
  unpark(): void {
    let withdrawn = this.parks;
    for (const n of this.unparking) withdrawn -= n;
    if (withdrawn <= 0) return;
    this.unparking.push(withdrawn);
    this.connection.send(encodePacket("REQ", "OPTION_REQ", { option: UNPARK }));
  }

  /**
   * An OPTION_RES (its option) or an ERROR UNKNOWN_OPTION (undefined): true when it answers one of this
   * link's own requests (consumed here). The ERROR is gearmand's answer to WAKE_WITH_JOB: the worker grabs
   * and sleeps as ever.
   */
  answered(option: string | undefined): boolean {
    if (this.asked && (option === WAKE_WITH_JOB || option === undefined)) {
      this.asked = false;
      this.wakeWithJob = option === WAKE_WITH_JOB;
      return true;
    }
    if (option === UNPARK && this.unparking.length > 0) {
      this.parks -= this.unparking.shift()!;
      return true;
    }
    return false;
  }
}
