/**
 * The embedded Gearman job server.
 *
 *   socket ──FrameDecoder──► binary packet ──► onPacket ──► client requests (SUBMIT_*, GET_STATUS*, OPTION_REQ, ECHO)
 *                 │                                   └──► worker requests (CAN_DO*, GRAB_JOB*, PRE_SLEEP, WORK_*)
 *                 └──► text line ──► runAdminCommand (admin-commands.ts)
 *
 *   SUBMIT ──► FunctionQueue.queues[priority] (+ unique index, + journal if background) ──► JOB_CREATED
 *          └─► wake one sleeping worker (NOOP)
 *   GRAB ──► highest priority job among the worker's functions ──► JOB_ASSIGN_UNIQ
 *   WORK_* ──► forwarded to the job's clients; COMPLETE / FAIL / EXCEPTION end the job
 *   worker lost ──► its jobs go back to the front of their queue (retries counted, capped by jobRetries)
 *
 * A peer that sends bytes that are not Gearman gets an ERROR packet and is
 * disconnected; nothing a peer sends can stop the server.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import os from "node:os";
import { FrameDecoder } from "../gearman/decoder.js";
import { encodeRaw, splitArgs, type Packet } from "../gearman/packet.js";
import { PacketType, packetName } from "../gearman/packet-types.js";
import { GearmanError } from "../gearman/errors.js";
import { fillServerOptions, type FilledServerOptions, type JobServerOptions } from "./server-options.js";
import { FunctionQueue } from "./function-queue.js";
import { Job, Priority } from "./job.js";
import { Peer } from "./peer.js";
import { Journal, replayJournal, type JournalEntry } from "./journal.js";
import { runAdminCommand } from "./admin-commands.js";

const NOOP = encodeRaw("RES", PacketType.NOOP, []);
const NO_JOB = encodeRaw("RES", PacketType.NO_JOB, []);
const MAX_UNIQUE = 64;

const SUBMIT: Record<number, { priority: Priority; background: boolean }> = {
  [PacketType.SUBMIT_JOB]: { priority: Priority.Normal, background: false },
  [PacketType.SUBMIT_JOB_HIGH]: { priority: Priority.High, background: false },
  [PacketType.SUBMIT_JOB_LOW]: { priority: Priority.Low, background: false },
  [PacketType.SUBMIT_JOB_BG]: { priority: Priority.Normal, background: true },
  [PacketType.SUBMIT_JOB_HIGH_BG]: { priority: Priority.High, background: true },
  [PacketType.SUBMIT_JOB_LOW_BG]: { priority: Priority.Low, background: true },
};

export interface ServerAddressInfo {
  readonly host: string;
  readonly port: number;
}

/** Emits "shutdown" after an admin `shutdown` command closed it. */
export class JobServer extends EventEmitter {
  readonly options: FilledServerOptions;
  readonly startedAt = Date.now();
  /** @internal read by admin-commands */ readonly functions = new Map<string, FunctionQueue>();
  /** @internal */ readonly jobs = new Map<string, Job>();
  /** @internal */ readonly peers = new Set<Peer>();
  private readonly server: net.Server;
  private journal: Journal | undefined;
  private handleCounter = 0;
  private peerCounter = 0;
  private listening: ServerAddressInfo | undefined;
  private closing: Promise<void> | undefined;
  /** @internal */ verbose = "ERROR";

  constructor(options: JobServerOptions = {}) {
    super();
    this.options = fillServerOptions(options, os.hostname());
    this.server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  /** Where the server listens (after listen()). */
  get address(): ServerAddressInfo | undefined {
    return this.listening;
  }

  /** Replays the journal (if any), then listens. Resolves with the actual host and port. */
  async listen(): Promise<ServerAddressInfo> {
    if (this.options.queueFile) {
      const entries = replayJournal(this.options.queueFile);
      this.journal = new Journal(this.options.queueFile, entries, this.options.queueFsync);
      for (const entry of entries) this.restore(entry);
      if (entries.length > 0) this.options.log(`replayed ${entries.length} background jobs from ${this.options.queueFile}`);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const { address, port } = this.server.address() as net.AddressInfo;
    this.listening = Object.freeze({ host: address, port });
    return this.listening;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) return void socket.destroy();
    if (this.peers.size >= this.options.maxConnections) {
      this.options.log(`refusing ${socket.remoteAddress}:${socket.remotePort}: ${this.options.maxConnections} connections already`);
      socket.on("error", () => {});
      socket.end(encodeRaw("RES", PacketType.ERROR, ["TOO_MANY_CONNECTIONS", `the server allows ${this.options.maxConnections} connections`]));
      return;
    }
    const peer = new Peer(++this.peerCounter, socket, this.options.writeLimit, (slow) => this.drop(slow, `it does not read what the server sends (over ${this.options.writeLimit} bytes waiting)`));
    this.peers.add(peer);
    socket.setKeepAlive(true, 10_000);
    const decoder = new FrameDecoder({
      expect: "REQ",
      maxPacketSize: this.options.maxPacketSize,
      peer: peer.address,
      onPacket: (packet) => this.onPacket(peer, packet),
      onText: (line) => runAdminCommand(this, peer, line),
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        return this.refuse(peer, error);
      }
      if (peer.backedUp && !peer.closed) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    socket.on("error", () => {});
    socket.once("close", () => this.disconnect(peer));
  }

  /** Answers a protocol violation with an ERROR packet and closes that connection. */
  private refuse(peer: Peer, error: unknown): void {
    const code = error instanceof GearmanError ? error.code : "PROTOCOL";
    const message = error instanceof Error ? error.message : String(error);
    this.options.log(`closing ${peer.address}: ${message}`);
    peer.send(encodeRaw("RES", PacketType.ERROR, [code === "PACKET_TOO_LARGE" ? "PACKET_TOO_LARGE" : "PROTOCOL_ERROR", message]));
    peer.closed = true;
    peer.socket.end();
    setTimeout(() => peer.socket.destroy(), 1000).unref();
  }

  private drop(peer: Peer, why: string): void {
    if (peer.closed) return;
    this.options.log(`dropping ${peer.address}: ${why}`);
    peer.closed = true;
    peer.socket.destroy();
  }

  private error(peer: Peer, code: string, text: string): void {
    peer.send(encodeRaw("RES", PacketType.ERROR, [code, text]));
  }

  /** @internal */
  queueFor(func: string): FunctionQueue {
    let queue = this.functions.get(func);
    if (!queue) this.functions.set(func, (queue = new FunctionQueue(func)));
    return queue;
  }

  private onPacket(peer: Peer, packet: Packet): void {
    if (peer.closed) return;
    const type = packet.type;
    const submit = SUBMIT[type];
    if (submit) return this.submit(peer, packet, submit.priority, submit.background, 0);
    switch (type) {
      case PacketType.GRAB_JOB:
      case PacketType.GRAB_JOB_UNIQ:
      case PacketType.GRAB_JOB_ALL:
        return this.grab(peer, type);
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_FAIL:
      case PacketType.WORK_EXCEPTION:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_STATUS:
        return this.work(peer, packet);
      case PacketType.PRE_SLEEP:
        peer.sleeping = true;
        if (this.hasJobFor(peer)) {
          peer.sleeping = false;
          peer.send(NOOP);
        }
        return;
      case PacketType.CAN_DO:
        return this.canDo(peer, packet.body.toString(), 0);
      case PacketType.CAN_DO_TIMEOUT: {
        const { func, timeout } = packet.args("CAN_DO_TIMEOUT");
        return this.canDo(peer, func, Math.max(0, Number(timeout) || 0) * 1000);
      }
      case PacketType.CANT_DO: {
        const func = packet.body.toString();
        peer.abilities.delete(func);
        this.functions.get(func)?.workers.delete(peer);
        return;
      }
      case PacketType.RESET_ABILITIES:
        for (const func of peer.abilities.keys()) this.functions.get(func)?.workers.delete(peer);
        peer.abilities.clear();
        return;
      case PacketType.SET_CLIENT_ID:
        peer.clientId = packet.body.toString().replace(/\s/g, "_") || "-";
        return;
      case PacketType.SUBMIT_JOB_EPOCH: {
        const [func, unique, epoch, data] = splitArgs(packet.body, 4, "SUBMIT_JOB_EPOCH");
        const when = Number(epoch.toString());
        if (!Number.isFinite(when)) return this.error(peer, "INVALID_EPOCH", `epoch "${epoch}" is not a number`);
        return this.submitParts(peer, func.toString(), unique.toString(), data, Priority.Normal, true, when);
      }
      case PacketType.GET_STATUS:
        return this.status(peer, packet.body.toString());
      case PacketType.GET_STATUS_UNIQUE:
        return this.statusUnique(peer, packet.body.toString());
      case PacketType.ECHO_REQ:
        return peer.send(encodeRaw("RES", PacketType.ECHO_RES, [packet.body]));
      case PacketType.OPTION_REQ: {
        const option = packet.body.toString();
        if (option !== "exceptions") return this.error(peer, "UNKNOWN_OPTION", `unknown option "${option}"`);
        peer.exceptions = true;
        return peer.send(encodeRaw("RES", PacketType.OPTION_RES, [option]));
      }
      case PacketType.SUBMIT_JOB_SCHED:
      case PacketType.SUBMIT_REDUCE_JOB:
      case PacketType.SUBMIT_REDUCE_JOB_BACKGROUND:
      case PacketType.ALL_YOURS:
        return this.error(peer, "NOT_SUPPORTED", `${packetName(type)} is not supported by this server`);
      default:
        return this.refuse(peer, new GearmanError("PROTOCOL", `unexpected packet ${packetName(type) ?? `type ${type}`} from a client or worker`));
    }
  }

  private submit(peer: Peer, packet: Packet, priority: Priority, background: boolean, epoch: number): void {
    const [func, unique, data] = splitArgs(packet.body, 3, "SUBMIT_JOB");
    this.submitParts(peer, func.toString(), unique.toString(), data, priority, background, epoch);
  }

  private submitParts(peer: Peer, func: string, uniqueArg: string, data: Buffer, priority: Priority, background: boolean, epoch: number): void {
    if (func === "") return this.error(peer, "INVALID_FUNCTION_NAME", "empty function name");
    const unique = uniqueArg === "-" ? data.toString() : uniqueArg;
    if (Buffer.byteLength(unique) > MAX_UNIQUE) return this.error(peer, "INVALID_UNIQUE", `unique id longer than ${MAX_UNIQUE} bytes`);
    const queue = this.queueFor(func);
    if (unique !== "") {
      const existing = queue.unique.get(unique);
      if (existing?.live) {
        if (!background) {
          existing.clients.add(peer);
          peer.waiting.add(existing);
        }
        return peer.send(encodeRaw("RES", PacketType.JOB_CREATED, [existing.handle]));
      }
    }
    const limit = queue.maxQueue?.[priority] ?? this.options.maxQueue;
    if (limit > 0 && queue.queued >= limit) return this.error(peer, "QUEUE_ERROR", `queue of ${func} is full (${limit} jobs)`);
    const job = new Job(`H:${this.options.handlePrefix}:${++this.handleCounter}`, func, unique, Buffer.from(data), priority, background, epoch);
    if (background && this.journal) {
      this.journal.add({ handle: job.handle, func, unique, priority, epoch, data: job.data });
    }
    if (!background) {
      job.clients.add(peer);
      peer.waiting.add(job);
    }
    this.admit(job, queue);
    peer.send(encodeRaw("RES", PacketType.JOB_CREATED, [job.handle]));
  }

  /** Indexes a job and queues it now, or when its epoch comes. */
  private admit(job: Job, queue: FunctionQueue): void {
    this.jobs.set(job.handle, job);
    if (job.unique !== "") queue.unique.set(job.unique, job);
    const delayMs = job.epoch * 1000 - Date.now();
    if (job.epoch > 0 && delayMs > 0) {
      job.timer = setTimeout(() => {
        job.timer = undefined;
        if (job.live) this.enqueue(job, queue, false);
      }, Math.min(delayMs, 2 ** 31 - 1));
      job.timer.unref();
      return;
    }
    this.enqueue(job, queue, false);
  }

  private enqueue(job: Job, queue: FunctionQueue, front: boolean): void {
    if (front) queue.queues[job.priority].unshift(job);
    else queue.queues[job.priority].push(job);
    queue.wakeOne(NOOP);
  }

  private restore(entry: JournalEntry): void {
    const counter = Number(/:(\d+)$/.exec(entry.handle)?.[1] ?? 0);
    if (counter > this.handleCounter) this.handleCounter = counter;
    const job = new Job(entry.handle, entry.func, entry.unique, entry.data, entry.priority as Priority, true, entry.epoch);
    this.admit(job, this.queueFor(entry.func));
  }

  private canDo(peer: Peer, func: string, timeoutMs: number): void {
    if (func === "") return;
    peer.abilities.set(func, timeoutMs);
    this.queueFor(func).workers.add(peer);
  }

  private hasJobFor(peer: Peer): boolean {
    for (const func of peer.abilities.keys()) {
      if ((this.functions.get(func)?.queued ?? 0) > 0) return true;
    }
    return false;
  }

  /** Takes the next job for a worker: the highest priority first, across its functions in registration order. */
  private take(peer: Peer): Job | undefined {
    for (let priority = Priority.High; priority <= Priority.Low; priority++) {
      for (const func of peer.abilities.keys()) {
        const queue = this.functions.get(func);
        if (!queue) continue;
        const fifo = queue.queues[priority];
        let job: Job | undefined;
        while ((job = fifo.shift())) {
          if (!job.live) continue;
          if (!job.background && job.clients.size === 0) {
            this.forget(job); // every client left: nobody wants the result
            continue;
          }
          return job;
        }
      }
    }
    return undefined;
  }

  private grab(peer: Peer, type: number): void {
    peer.sleeping = false;
    const job = this.take(peer);
    if (!job) return peer.send(NO_JOB);
    job.worker = peer;
    peer.held.add(job);
    const queue = this.functions.get(job.func)!;
    queue.running++;
    const timeoutMs = peer.abilities.get(job.func) ?? 0;
    if (timeoutMs > 0) {
      job.workTimer = setTimeout(() => this.release(job, `worker ${peer.address} did not finish within ${timeoutMs} ms (CAN_DO_TIMEOUT)`), timeoutMs);
    }
    if (type === PacketType.GRAB_JOB) peer.send(encodeRaw("RES", PacketType.JOB_ASSIGN, [job.handle, job.func, job.data]));
    else peer.send(encodeRaw("RES", PacketType.JOB_ASSIGN_UNIQ, [job.handle, job.func, job.unique, job.data]));
  }

  private work(peer: Peer, packet: Packet): void {
    const nul = packet.body.indexOf(0);
    const handle = packet.body.toString("latin1", 0, nul < 0 ? packet.body.length : nul);
    const job = this.jobs.get(handle);
    if (!job || job.worker !== peer) return; // finished, requeued or never ours: late packets are ignored
    const type = packet.type;
    if (type === PacketType.WORK_STATUS) {
      const [, numerator, denominator] = splitArgs(packet.body, 3, "WORK_STATUS");
      job.numerator = numerator.toString();
      job.denominator = denominator.toString();
    }
    if (type === PacketType.WORK_EXCEPTION) {
      const fail = encodeRaw("RES", PacketType.WORK_FAIL, [handle]);
      const exception = encodeRaw("RES", type, [packet.body]);
      for (const client of job.clients) client.send(client.exceptions ? exception : fail);
    } else if (job.clients.size > 0) {
      const forward = encodeRaw("RES", type, [packet.body]);
      for (const client of job.clients) client.send(forward);
    }
    if (type === PacketType.WORK_COMPLETE || type === PacketType.WORK_FAIL || type === PacketType.WORK_EXCEPTION) this.finish(job);
  }

  /** A job ended (or was cancelled): forget it everywhere. */
  private finish(job: Job): void {
    if (job.worker) {
      job.worker.held.delete(job);
      this.functions.get(job.func)!.running--;
      job.worker = undefined;
    }
    this.forget(job);
  }

  private forget(job: Job): void {
    if (!job.live) return;
    job.live = false;
    clearTimeout(job.timer);
    clearTimeout(job.workTimer);
    this.jobs.delete(job.handle);
    const queue = this.functions.get(job.func);
    if (queue && job.unique !== "" && queue.unique.get(job.unique) === job) queue.unique.delete(job.unique);
    for (const client of job.clients) client.waiting.delete(job);
    job.clients.clear();
    if (job.background && this.journal) this.journal.done(job.handle, () => this.liveBackgroundJobs());
  }

  private liveBackgroundJobs(): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const job of this.jobs.values()) {
      if (job.background) out.push({ handle: job.handle, func: job.func, unique: job.unique, priority: job.priority, epoch: job.epoch, data: job.data });
    }
    return out;
  }

  /** A worker lost a job (disconnect, CAN_DO_TIMEOUT): back to the front of its queue, or failed past jobRetries. */
  private release(job: Job, why: string): void {
    if (!job.live || !job.worker) return;
    const queue = this.functions.get(job.func)!;
    job.worker.held.delete(job);
    job.worker = undefined;
    queue.running--;
    clearTimeout(job.workTimer);
    job.retries++;
    const cap = this.options.jobRetries;
    if (cap > 0 && job.retries >= cap) {
      this.options.log(`job ${job.handle} (${job.func}) failed: ${why}; retried ${job.retries} times`);
      const fail = encodeRaw("RES", PacketType.WORK_FAIL, [job.handle]);
      for (const client of job.clients) client.send(fail);
      return this.forget(job);
    }
    this.enqueue(job, queue, true);
  }

  private disconnect(peer: Peer): void {
    peer.closed = true;
    this.peers.delete(peer);
    for (const func of peer.abilities.keys()) this.functions.get(func)?.workers.delete(peer);
    for (const job of [...peer.held]) this.release(job, `worker ${peer.address} disconnected`);
    for (const job of peer.waiting) job.clients.delete(peer);
    peer.waiting.clear();
  }

  private status(peer: Peer, handle: string): void {
    const job = this.jobs.get(handle);
    peer.send(encodeRaw("RES", PacketType.STATUS_RES, [handle, job ? "1" : "0", job?.worker ? "1" : "0", job?.numerator ?? "0", job?.denominator ?? "0"]));
  }

  private statusUnique(peer: Peer, unique: string): void {
    let job: Job | undefined;
    for (const queue of this.functions.values()) if ((job = queue.unique.get(unique))) break;
    peer.send(
      encodeRaw("RES", PacketType.STATUS_RES_UNIQUE, [unique, job ? "1" : "0", job?.worker ? "1" : "0", job?.numerator ?? "0", job?.denominator ?? "0", String(job?.clients.size ?? 0)]),
    );
  }

  /** @internal admin `cancel job`: removes a queued (not running) job. */
  cancelQueued(handle: string): boolean {
    const job = this.jobs.get(handle);
    if (!job || job.worker) return false;
    this.functions.get(job.func)?.queues[job.priority].remove(job);
    this.forget(job);
    return true;
  }

  /**
   * Stops the server. Graceful: stop accepting, let workers finish the jobs
   * they hold (up to `graceMs`), then close every connection. Otherwise close
   * every connection at once. The journal keeps unfinished background jobs.
   */
  close(options: { graceful?: boolean; graceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      if (options.graceful) {
        const deadline = Date.now() + (options.graceMs ?? 30_000);
        while (Date.now() < deadline && [...this.peers].some((p) => p.held.size > 0)) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      for (const peer of this.peers) peer.socket.destroy();
      for (const job of this.jobs.values()) {
        clearTimeout(job.timer);
        clearTimeout(job.workTimer);
      }
      await serverClosed;
      this.journal?.close();
    })();
    return this.closing;
  }

  /** @internal */
  emitShutdown(): void {
    this.emit("shutdown");
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
