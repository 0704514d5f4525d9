/**
 * A Gearman worker over one or many job servers.
 *
 *   connect ──► SET_CLIENT_ID, CAN_DO* ──► GRAB_JOB_UNIQ (while a slot is free, one grab per server at a time)
 *   NO_JOB ──► PRE_SLEEP ··· NOOP ──► GRAB_JOB_UNIQ
 *   JOB_ASSIGN_UNIQ ──► handler(job) ──► WORK_COMPLETE | WORK_EXCEPTION (handler threw) ──► slot free ──► grab again
 *   connection lost ──► its jobs' signals abort (the server requeues them) ──► reconnect ──► register again
 */
import { EventEmitter } from "node:events";
import { ServerConnection, DEFAULT_RECONNECT, type ReconnectOptions } from "./connection.js";
import { encodePacket, splitArgs, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { parseAddressList } from "./address.js";
import { WorkerJob } from "./worker-job.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";
import { protocolError, ServerError, type GearmanError } from "./errors.js";

export { WorkerJob } from "./worker-job.js";

export interface WorkerOptions {
  /** Job servers: "host:port", a comma-separated list, or an array. Default port 4730. */
  servers: string | readonly string[];
  /** Sent as SET_CLIENT_ID on every connection (shows in admin `workers`). */
  clientId?: string;
  /** Most jobs run at once, across all servers. Default 1. */
  concurrency?: number;
  /** Largest packet accepted from a server, in bytes. Default 64 MiB. */
  maxPacketSize?: number;
  /** Reconnect backoff, or false to stay down after a loss. */
  reconnect?: ReconnectOptions | false;
  /** Give up one connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
}

/**
 * Runs one job. A resolved Buffer, Uint8Array or string (or undefined) is sent
 * as WORK_COMPLETE; a throw is sent as WORK_EXCEPTION carrying the error's
 * stack text. A handler may also end the job itself (job.complete / fail / exception).
 */
export type JobHandler = (job: WorkerJob) => unknown;

export interface RegisterOptions {
  /** Registers with CAN_DO_TIMEOUT: the server may give the job to another worker after this many ms. */
  timeoutMs?: number;
}

class WorkerLink {
  grabbing = false;
  sleeping = false;
  readonly jobs = new Set<WorkerJob>();
  constructor(readonly connection: ServerConnection) {}
}

export class GearmanWorker extends EventEmitter {
  private readonly links: WorkerLink[];
  private readonly functions = new Map<string, { handler: JobHandler; timeoutMs: number | undefined }>();
  private concurrency: number;
  private runningCount = 0;
  private started = false;
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private readonly clientId: string | undefined;

  constructor(options: WorkerOptions) {
    super();
    const servers = parseAddressList(options.servers);
    this.concurrency = checkConcurrency(options.concurrency ?? 1);
    this.clientId = options.clientId;
    this.links = servers.map((address) => {
      const link: WorkerLink = new WorkerLink(
        new ServerConnection(address, {
          maxPacketSize: options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE,
          reconnect: options.reconnect ?? DEFAULT_RECONNECT,
          connectTimeoutMs: options.connectTimeoutMs,
          onPacket: (packet) => this.onPacket(link, packet),
          onConnect: () => this.onConnect(link),
          onDisconnect: (error) => this.onDisconnect(link, error),
        }),
      );
      return link;
    });
  }

  /** Jobs running now. */
  get running(): number {
    return this.runningCount;
  }

  register(func: string, handler: JobHandler, options: RegisterOptions = {}): this {
    if (typeof func !== "string" || func === "" || func.includes("\0")) throw new TypeError(`function name must be a non-empty string, got ${JSON.stringify(func)}`);
    if (typeof handler !== "function") throw new TypeError(`handler for ${func} must be a function`);
    this.functions.set(func, { handler, timeoutMs: options.timeoutMs });
    for (const link of this.links) if (link.connection.connected) link.connection.send(this.canDo(func));
    this.grabEverywhere();
    return this;
  }

  unregister(func: string): this {
    if (this.functions.delete(func)) {
      for (const link of this.links) link.connection.send(encodePacket("REQ", "CANT_DO", { func }));
    }
    return this;
  }

  unregisterAll(): this {
    this.functions.clear();
    for (const link of this.links) link.connection.send(encodePacket("REQ", "RESET_ABILITIES", {}));
    return this;
  }

  /** Connects to every server and starts taking jobs. */
  start(): this {
    if (this.started) return this;
    this.started = true;
    for (const link of this.links) link.connection.open();
    return this;
  }

  setConcurrency(n: number): void {
    this.concurrency = checkConcurrency(n);
    this.grabEverywhere();
  }

  private canDo(func: string): Buffer {
    const timeoutMs = this.functions.get(func)?.timeoutMs;
    return timeoutMs === undefined
      ? encodePacket("REQ", "CAN_DO", { func })
      : encodePacket("REQ", "CAN_DO_TIMEOUT", { func, timeout: Math.max(1, Math.ceil(timeoutMs / 1000)) });
  }

  private onConnect(link: WorkerLink): void {
    link.grabbing = false;
    link.sleeping = false;
    if (this.clientId) link.connection.send(encodePacket("REQ", "SET_CLIENT_ID", { id: this.clientId }));
    for (const func of this.functions.keys()) link.connection.send(this.canDo(func));
    this.emit("connect", link.connection.name);
    this.grab(link);
  }

  private onDisconnect(link: WorkerLink, error: GearmanError): void {
    link.grabbing = false;
    link.sleeping = false;
    for (const job of [...link.jobs]) job.abandon(error);
    this.emit("disconnect", link.connection.name, error);
  }

  private freeSlots(): number {
    let grabs = 0;
    for (const link of this.links) if (link.grabbing) grabs++;
    return this.concurrency - this.runningCount - grabs;
  }

  private grab(link: WorkerLink): void {
    if (this.stopping || link.grabbing || !link.connection.connected || this.functions.size === 0) return;
    if (this.freeSlots() <= 0) return;
    link.grabbing = true;
    link.sleeping = false;
    link.connection.send(encodePacket("REQ", "GRAB_JOB_UNIQ", {}));
  }

  private grabEverywhere(): void {
    for (const link of this.links) if (!link.sleeping) this.grab(link);
  }

  private onPacket(link: WorkerLink, packet: Packet): void {
    switch (packet.type) {
      case PacketType.NOOP:
        link.sleeping = false;
        return this.grab(link);
      case PacketType.NO_JOB:
        link.grabbing = false;
        link.sleeping = true;
        link.connection.send(encodePacket("REQ", "PRE_SLEEP", {}));
        return;
      case PacketType.JOB_ASSIGN_UNIQ: {
        const [handle, func, unique, data] = splitArgs(packet.body, 4, "JOB_ASSIGN_UNIQ");
        return this.assign(link, handle.toString(), func.toString(), unique.toString(), data);
      }
      case PacketType.JOB_ASSIGN: {
        const [handle, func, data] = splitArgs(packet.body, 3, "JOB_ASSIGN");
        return this.assign(link, handle.toString(), func.toString(), "", data);
      }
      case PacketType.JOB_ASSIGN_ALL: {
        const [handle, func, unique, , data] = splitArgs(packet.body, 5, "JOB_ASSIGN_ALL");
        return this.assign(link, handle.toString(), func.toString(), unique.toString(), data);
      }
      case PacketType.ERROR: {
        const { code, text } = packet.args("ERROR");
        link.grabbing = false;
        this.emit("error", new ServerError(code, text, `worker on ${link.connection.name}`));
        return;
      }
      case PacketType.ECHO_RES:
        return;
      default:
        link.connection.drop(protocolError(`unexpected packet ${packet.name} for a worker`, link.connection.name));
    }
  }

  private assign(link: WorkerLink, handle: string, func: string, unique: string, data: Buffer): void {
    link.grabbing = false;
    const job = new WorkerJob(
      handle,
      func,
      unique,
      Buffer.from(data),
      link.connection.name,
      (bytes) => link.connection.send(bytes),
      (finished) => this.jobDone(link, finished),
    );
    link.jobs.add(job);
    this.runningCount++;
    this.emit("job", job);
    const registered = this.functions.get(func);
    if (!registered) {
      job.fail();
      return;
    }
    // More slots free? Ask for the next job while this one runs.
    this.grab(link);
    let result: unknown;
    try {
      result = registered.handler(job);
    } catch (error) {
      return this.sendOutcome(job, Promise.reject(error));
    }
    this.sendOutcome(job, result);
  }

  private sendOutcome(job: WorkerJob, result: unknown): void {
    Promise.resolve(result).then(
      (value) => {
        if (job.finished) return;
        if (value === undefined || value === null) job.complete();
        else if (typeof value === "string" || value instanceof Uint8Array) job.complete(value);
        else job.exception(`handler for ${job.func} returned ${typeof value}, expected a Buffer, Uint8Array, string or undefined`);
      },
      (error: unknown) => {
        if (job.finished) return;
        job.exception(error instanceof Error ? (error.stack ?? String(error)) : String(error));
      },
    );
  }

  private jobDone(link: WorkerLink, job: WorkerJob): void {
    link.jobs.delete(job);
    this.runningCount--;
    if (this.runningCount === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    this.grabEverywhere();
  }

  /**
   * Graceful stop: takes no new jobs, waits for the running ones up to the
   * deadline (default 30 s), then closes. Jobs still running then are
   * abandoned: their signals abort and the servers requeue them.
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<void> {
    this.stopping = true;
    if (this.runningCount > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.deadlineMs ?? 30_000);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.close();
  }

  /** Closes at once; running jobs are abandoned. Releases every socket and timer. */
  async close(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.links.map((l) => l.connection.close()));
    for (const link of this.links) for (const job of [...link.jobs]) job.abandon(new Error("worker closed"));
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function checkConcurrency(n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new TypeError(`concurrency must be a whole number ≥ 1, got ${n}`);
  return n;
}
