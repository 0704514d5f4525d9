/**
 * A Gearman worker over one or many job servers.
 *
 *   connect ──► SET_CLIENT_ID, CAN_DO / CAN_DO_TIMEOUT ──► GRAB_JOB_UNIQ
 *   GRAB_JOB_UNIQ (only while running + outstanding grabs and parks < concurrency; several may be out on one server;
 *                  the grabs of a server silent for 2 s hold no slot, so it cannot starve the others)
 *     ├─ NO_JOB ──► no more grabs there; once its last grab is answered: PRE_SLEEP ··· NOOP ──► GRAB_JOB_UNIQ
 *     │          (with one server that knows it, a free slot is parked instead: PRE_SLEEP, which the
 *     │           server answers with a job whenever one comes, never NO_JOB: wake-with-job.ts, worker-link.ts)
 *     └─ JOB_ASSIGN_UNIQ ──► "job" event ──► handler(job) ──► WORK_COMPLETE | WORK_EXCEPTION
 *                              └─ a slot still free? GRAB_JOB_UNIQ again on the same server (one for every
 *                                 free slot if NO_JOBs had held grabs back there)
 *   handler settles ──► slot free ──► grab on every awake server, starting after the last one served
 *                       (sent with the job's WORK_COMPLETE, without waiting for grabs already out)
 *   connection lost (or silent: probed and dropped, connection.ts) ──► its jobs abandoned (signal aborts;
 *                   the server requeues them) ──► reconnect ──► register again
 *   heartbeatMs ──► every running job older than it: WORK_DATA with no data, so its client can tell it still runs
 */
import { EventEmitter } from "node:events";
import { ServerConnection } from "./connection.js";
import { encodePacket, splitArgs, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { handleText } from "./job-handle.js";
import { keepPayload } from "./payload.js";
import { badResult, resultBytes } from "../bytes.js";
import { WorkerJob } from "./worker-job.js";
import { WorkerLink } from "./worker-link.js";
import { closedError, protocolError, timeoutError, ServerError, type GearmanError } from "./errors.js";
import {
  fillWorkerOptions,
  checkConcurrency,
  checkRegistration,
  fillStopOptions,
  type FilledWorkerOptions,
  type RegisterOptions,
  type WorkerOptions,
} from "./worker-options.js";
import { checkFunctionName } from "./function-name.js";

/**
 * Runs one job. What it returns (or resolves to) ends the job unless the
 * handler already did (job.complete / fail / exception):
 * a Buffer, Uint8Array or string is sent as WORK_COMPLETE's data; undefined
 * or null as an empty WORK_COMPLETE; anything else as WORK_EXCEPTION naming
 * the wrong type. A throw or rejection is sent as WORK_EXCEPTION carrying
 * the error's stack text (or String(value) for a non-Error); clients that did
 * not ask for exceptions see WORK_FAIL. The job's slot stays taken until the
 * handler settles, so a handler should honour `job.signal`.
 */
export type JobHandler = (job: WorkerJob) => unknown;

const NO_DATA = Buffer.alloc(0);

interface Registration {
  readonly handler: JobHandler;
  readonly timeoutMs: number | undefined;
}

/**
 * Events: "connect" (server), "disconnect" (server, error), "job" (job),
 * "error" (error: a server's ERROR packet, e.g. JOB_NOT_FOUND for a result
 * sent after CAN_DO_TIMEOUT). "error" is emitted only while someone listens,
 * so a server's reply never throws out of the worker.
 */
export class GearmanWorker extends EventEmitter {
  private readonly options: FilledWorkerOptions;
  private readonly links: WorkerLink[];
  private readonly functions = new Map<string, Registration>();
  private concurrency: number;
  private runningCount = 0;
  private nextLink = 0;
  private started = false;
  private paused = false;
  private stopping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** CAN_DO_TIMEOUT timers of running jobs. */
  private readonly timers = new Map<WorkerJob, NodeJS.Timeout>();
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(options: WorkerOptions) {
    super();
    this.options = fillWorkerOptions(options);
    this.concurrency = this.options.concurrency;
    this.links = this.options.servers.map((address) => {
      const link = new WorkerLink();
      link.connection = new ServerConnection(address, {
        maxPacketSize: this.options.maxPacketSize,
        reconnect: this.options.reconnect,
        connectTimeoutMs: this.options.connectTimeoutMs,
        tls: this.options.tls,
        open: this.options.open,
        // Another job still running may end in this event-loop turn too: its result and grab then share the write.
        gatherWrites: () => this.runningCount > 1,
        onPacket: (packet) => this.onPacket(link, packet),
        // A silent server's grabs stop holding slots (and take them again once it is heard).
        onQuiet: () => {
          this.grabEverywhere();
          this.checkIdle();
        },
        onConnect: () => this.onConnect(link),
        onDisconnect: (error) => this.onDisconnect(link, error),
      });
      return link;
    });
  }

  /** Jobs whose handlers are running now (including abandoned ones that have not settled yet). */
  get running(): number {
    return this.runningCount;
  }

  /**
   * Connected, and asleep on every connection (PRE_SLEEP sent, no NOOP since; where the server hands jobs in place of
   * NOOPs, a slot parked and no grab out): the servers had no job for it.
   */
  get asleep(): boolean {
    let connected = 0;
    for (const link of this.links) {
      if (!link.connection.connected || link.connection.quiet) continue;
      if (link.wakeWithJob ? link.parks === 0 || link.grabs > 0 : !link.sleeping || link.grabs > 0) return false;
      connected++;
    }
    return connected > 0;
  }

  /** Registers (or replaces) the handler of `func`: CAN_DO, or CAN_DO_TIMEOUT with `timeoutMs`, on every connection now and after every reconnect. */
  register(func: string, handler: JobHandler, options: RegisterOptions = {}): this {
    const timeoutMs = checkRegistration(func, handler, options);
    this.functions.set(func, { handler, timeoutMs });
    for (const link of this.links) {
      link.connection.send(this.canDo(func));
      // A server wakes sleeping workers only for jobs submitted later, not for those already queued for a new ability.
      // Parked slots are the exception: the server hands them such a job (wake-with-job.ts).
      link.wake();
    }
    this.grabEverywhere();
    return this;
  }

  /**
   * CANT_DO on every connection. Jobs of `func` already running go on here, but gearmand 1.1.20 puts them back in
   * its queue and drops their results (pause() first and unregister once they are done, to keep them).
   */
  unregister(func: string): this {
    checkFunctionName("GearmanWorker.unregister function", func);
    if (this.functions.delete(func)) {
      for (const link of this.links) link.connection.send(encodePacket("REQ", "CANT_DO", { func }));
    }
    return this;
  }

  /** RESET_ABILITIES on every connection. */
  unregisterAll(): this {
    this.functions.clear();
    for (const link of this.links) link.connection.send(encodePacket("REQ", "RESET_ABILITIES", {}));
    return this;
  }

  /**
   * Takes no new jobs (sends no GRAB_JOB) while staying registered; running jobs go on, and a job a grab already
   * on its way brings still comes. Unlike CANT_DO, which gearmand 1.1.20 answers by putting the worker's running
   * jobs of that function back in the queue (their late results are dropped), this leaves running jobs alone.
   */
  pause(): this {
    this.paused = true;
    for (const link of this.links) link.unpark();
    return this;
  }

  /** Takes jobs again after pause(). */
  resume(): this {
    if (!this.paused) return this;
    this.paused = false;
    // Jobs may have been queued while paused without waking this worker (it was not asleep).
    for (const link of this.links) link.wake();
    this.grabEverywhere();
    return this;
  }

  /** Connects to every server and starts taking jobs. Calling it again does nothing. */
  start(): this {
    if (this.closed) throw closedError("GearmanWorker");
    if (this.started) return this;
    this.started = true;
    for (const link of this.links) link.connection.open();
    const every = this.options.heartbeatMs;
    if (every !== undefined) {
      this.heartbeat = setInterval(() => this.beat(every), every);
      this.heartbeat.unref();
    }
    return this;
  }

  /** WORK_DATA with no data for every job running for at least `every` ms (heartbeatMs). */
  private beat(every: number): void {
    const due = performance.now() - every;
    for (const link of this.links) for (const [job, since] of link.jobs) if (since <= due) job.sendData(NO_DATA);
  }

  /** Changes the most jobs run at once. Lowering it lets running jobs finish; no new ones are taken until below the limit. */
  setConcurrency(n: number): void {
    this.concurrency = checkConcurrency(n);
    this.grabEverywhere();
  }

  private canDo(func: string): Buffer {
    const timeoutMs = this.functions.get(func)?.timeoutMs;
    return timeoutMs === undefined
      ? encodePacket("REQ", "CAN_DO", { func })
      : encodePacket("REQ", "CAN_DO_TIMEOUT", { func, timeout: timeoutMs });
  }

  private onConnect(link: WorkerLink): void {
    const { clientId, wakeWithJob } = this.options;
    link.connected(wakeWithJob && this.links.length === 1);
    if (clientId !== undefined) link.connection.send(encodePacket("REQ", "SET_CLIENT_ID", { id: clientId }));
    for (const func of this.functions.keys()) link.connection.send(this.canDo(func));
    this.emit("connect", link.connection.name);
    this.grab(link);
  }

  private onDisconnect(link: WorkerLink, error: GearmanError): void {
    link.lost();
    for (const job of link.jobs.keys()) job.abandon(error);
    this.emit("disconnect", link.connection.name, error);
    this.grabEverywhere();
    this.checkIdle();
  }

  /** Grabs and parks, each holding a slot: a quiet server's do not (it may be gone; its connection is being probed). */
  private outstandingRequests(): number {
    let out = 0;
    for (const link of this.links) if (!link.connection.quiet) out += link.outstanding;
    return out;
  }

  /**
   * Asks `link` for a job for one free slot (a GRAB_JOB_UNIQ, or where the server hands jobs in place of NOOPs a
   * park: WorkerLink.request) if a slot is free and the server may have a job; returns whether it did.
   */
  private grab(link: WorkerLink): boolean {
    if (
      this.stopping ||
      this.paused ||
      link.sleeping ||
      link.drained ||
      !link.connection.connected ||
      link.connection.quiet ||
      this.functions.size === 0
    )
      return false;
    if (this.runningCount + this.outstandingRequests() >= this.concurrency) return false;
    link.request();
    return true;
  }

  /** Offers a free slot to every awake server, starting after the one offered first last time, so no server starves. */
  private grabEverywhere(): void {
    const n = this.links.length;
    const first = this.nextLink;
    this.nextLink = (first + 1) % n;
    for (let i = 0; i < n; i++) this.grab(this.links[(first + i) % n]);
  }

  private onPacket(link: WorkerLink, packet: Packet): void {
    switch (packet.type) {
      case PacketType.NOOP:
        link.wake();
        this.grab(link);
        return;
      case PacketType.NO_JOB:
        if (!link.noJob()) return; // unasked for: nothing to undo
        link.drained = link.grabs > 0;
        // Parking, the freed slot is asked for again below (as a park): no sleep.
        if (!link.drained && !link.wakeWithJob) link.sleep();
        // The slot this grab held may be taken on another server.
        this.grabEverywhere();
        return this.checkIdle();
      case PacketType.JOB_ASSIGN_UNIQ: {
        const [handle, func, unique, data] = splitArgs(packet.body, 4, "JOB_ASSIGN_UNIQ");
        return this.assign(link, handleText(handle), func.toString(), unique.toString(), data, packet.exclusive);
      }
      case PacketType.JOB_ASSIGN: {
        const [handle, func, data] = splitArgs(packet.body, 3, "JOB_ASSIGN");
        return this.assign(link, handleText(handle), func.toString(), "", data, packet.exclusive);
      }
      case PacketType.JOB_ASSIGN_ALL: {
        const [handle, func, unique, , data] = splitArgs(packet.body, 5, "JOB_ASSIGN_ALL");
        return this.assign(link, handleText(handle), func.toString(), unique.toString(), data, packet.exclusive);
      }
      case PacketType.OPTION_RES:
        if (!link.answered(packet.body.toString("latin1")))
          return link.connection.drop(protocolError("OPTION_RES for no OPTION_REQ", link.connection.name));
        // An unparked slot is free again: resumed meanwhile, the worker grabs with it.
        this.grabEverywhere();
        return this.checkIdle();
      case PacketType.ERROR: {
        const { code, text } = packet.args("ERROR");
        if (code === "UNKNOWN_OPTION" && link.answered(undefined)) return;
        if (this.listenerCount("error") > 0)
          this.emit("error", new ServerError(code, text, `worker on ${link.connection.name}`));
        return;
      }
      case PacketType.ECHO_RES:
        return;
      default:
        link.connection.drop(protocolError(`unexpected packet ${packet.name} for a worker`, link.connection.name));
    }
  }

  private assign(
    link: WorkerLink,
    handle: string,
    func: string,
    unique: string,
    data: Buffer,
    exclusive: boolean,
  ): void {
    if (!link.assigned())
      return link.connection.drop(
        protocolError(`job ${handle} (${func}) assigned without a GRAB_JOB`, link.connection.name),
      );
    const heldBack = link.drained;
    link.drained = false;
    const job = new WorkerJob(handle, func, unique, keepPayload(data, exclusive), {
      server: link.connection.name,
      send: (bytes) => link.connection.send(bytes),
    });
    link.jobs.set(job, performance.now());
    this.runningCount++;
    this.emit("job", job);
    const registered = this.functions.get(func);
    if (!registered) {
      job.exception(`no handler for function ${func} on this worker (unregistered while the job was on its way)`);
      return this.settled(link, job);
    }
    const { timeoutMs } = registered;
    if (timeoutMs !== undefined) {
      this.timers.set(
        job,
        setTimeout(
          () => job.expire(timeoutError(`job ${handle} (${func}) under CAN_DO_TIMEOUT`, timeoutMs)),
          timeoutMs,
        ),
      );
    }
    let outcome: Promise<unknown>;
    try {
      outcome = Promise.resolve(registered.handler(job));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    // Another slot free? Ask for the next job while this one runs (after the handler started it). After NO_JOBs
    // held grabs back here, the server has jobs again: ask for every free slot, or they would stay idle.
    if (heldBack) while (this.grab(link));
    else this.grab(link);
    outcome.then(
      (value) => {
        const bytes = resultBytes(value);
        if (bytes) job.complete(bytes);
        else job.exception(badResult(`handler for ${func}`, value));
        this.settled(link, job);
      },
      (error: unknown) => {
        job.exception(error instanceof Error ? (error.stack ?? String(error)) : String(error));
        this.settled(link, job);
      },
    );
  }

  private settled(link: WorkerLink, job: WorkerJob): void {
    clearTimeout(this.timers.get(job));
    this.timers.delete(job);
    link.jobs.delete(job);
    this.runningCount--;
    this.grabEverywhere();
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.runningCount > 0 || this.outstandingRequests() > 0) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Graceful stop: takes no new jobs, waits until the running ones have
   * settled and no grab is outstanding (a job assigned by a grab already on
   * its way runs too), for at most `deadlineMs` (default 30 000), then closes.
   * Jobs still running then are abandoned: their signals abort, their results
   * are discarded, and the servers requeue them.
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    const { deadlineMs } = fillStopOptions(options);
    this.stopping = true;
    for (const link of this.links) link.unpark();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadlineMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.checkIdle();
    });
    await this.close();
  }

  /** Closes at once: running jobs are abandoned (signals abort, results discarded; the servers requeue them). Releases every socket and timer. */
  async close(): Promise<void> {
    this.stopping = true;
    this.closed = true;
    const reason = closedError("GearmanWorker");
    for (const link of this.links) for (const job of link.jobs.keys()) job.abandon(reason);
    for (const timer of this.timers.values()) clearTimeout(timer);
    clearInterval(this.heartbeat);
    this.timers.clear();
    await Promise.all(this.links.map((link) => link.connection.close()));
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
