/**
 * The embedded Gearman job server.
 *
 *   socket ──FrameDecoder──► binary packet ──► onPacket ──► client requests (SUBMIT_*, GET_STATUS*, OPTION_REQ, ECHO)
 *                 │                                   └──► worker requests (CAN_DO*, GRAB_JOB*, PRE_SLEEP, WORK_*)
 *                 └──► text line ──► runAdminCommand (admin-commands.ts)
 *
 *   SUBMIT ──► FunctionQueue.queues[priority] (+ unique index, + journal if background) ──► JOB_CREATED
 *          └─► NOOP to the longest-sleeping worker of that function (one per job)
 *   GRAB ──► highest-priority job among the worker's functions ──► JOB_ASSIGN / _UNIQ / _ALL
 *   WORK_* ──► forwarded to the job's clients; COMPLETE / FAIL / EXCEPTION end the job
 *   worker lost, CAN_DO_TIMEOUT ──► its jobs go back to the front of their queue (retries capped by jobRetries)
 *
 *   every reply of a tick ──► Peer arena ──► (journal commit) ──► one socket write
 *
 * A peer that sends bytes that are not Gearman gets an ERROR packet and is
 * disconnected; nothing a peer sends can stop the server.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import tls from "node:tls";
import os from "node:os";
import { FrameDecoder } from "../gearman/decoder.js";
import { encodeRaw, splitArgs, type Packet } from "../gearman/packet.js";
import { PacketType, packetName } from "../gearman/packet-types.js";
import { GearmanError, protocolError } from "../gearman/errors.js";
import { fillServerOptions, type FilledServerOptions, type JobServerOptions } from "./server-options.js";
import { FunctionQueue } from "./function-queue.js";
import { Job, Priority, payloadOf, payloadString, uniqueKey, type Payload } from "./job.js";
import { Peer, type PeerHost, type PeerSocket } from "./peer.js";
import { InProcessSocket } from "./in-process-socket.js";
import { Journal, replayJournal, type JournalEntry } from "./journal.js";
import { runAdminCommand } from "./admin-commands.js";
import { PeerViolation, unexpectedPacket } from "./violation.js";

/** gearmand refuses longer unique ids. */
const MAX_UNIQUE = 64;
const NUL = 0;

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

/** Bytes `from`..`to` of a packet body as a byte string (latin1: one char per byte, lossless). */
function arg(body: Buffer, from: number, to: number): string {
  return body.toString("latin1", from, to);
}

/** Emits "shutdown" after an admin `shutdown` command closed it. */
export class JobServer extends EventEmitter implements PeerHost {
  readonly options: FilledServerOptions;
  readonly startedAt = Date.now();
  /** @internal read by admin-commands */ readonly functions = new Map<string, FunctionQueue>();
  /** @internal */ readonly jobs = new Map<number, Job>();
  /** @internal */ readonly peers = new Set<Peer>();
  /** @internal */ verbose = "ERROR";
  readonly writeLimit: number;
  private readonly server: net.Server;
  private readonly handleHead: string;
  private journal: Journal | undefined;
  private jobCounter = 0;
  private peerCounter = 0;
  private heldJobs = 0;
  private listening: ServerAddressInfo | undefined;
  private closing: Promise<void> | undefined;
  private draining = false;
  private drained: (() => void) | undefined;

  constructor(options: JobServerOptions = {}) {
    super();
    this.options = fillServerOptions(options, os.hostname());
    this.writeLimit = this.options.writeLimit;
    this.handleHead = `H:${Buffer.from(this.options.handlePrefix).toString("latin1")}:`;
    const secure = this.options.tls;
    this.server = secure
      ? tls.createServer({ cert: secure.cert, key: secure.key, ca: secure.ca, requestCert: secure.ca !== undefined, rejectUnauthorized: secure.ca !== undefined }, (socket) => this.accept(socket))
      : net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    if (secure) {
      this.server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => this.options.log(`refused a TLS connection from ${socket.remoteAddress}:${socket.remotePort}: ${error.message}`));
    }
  }

  /** Where the server listens (after listen()). */
  get address(): ServerAddressInfo | undefined {
    return this.listening;
  }

  /** Replays the journal (if any), then listens. Resolves with the actual host and port. */
  async listen(): Promise<ServerAddressInfo> {
    if (this.options.queueFile) {
      const entries = replayJournal(this.options.queueFile);
      for (const entry of entries) this.restore(entry);
      this.journal = new Journal(this.options.queueFile, entries, this.options.queueFsync, () => this.liveBackgroundJobs());
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

  // ── connections ──────────────────────────────────────────────────────────

  /**
   * A connection from this process that skips the network: the client's end
   * of an InProcessSocket pair whose other end this server serves like any
   * TCP connection (GearmanClient's `connect` option takes it). Listening is
   * not needed for it.
   */
  connectInProcess(): InProcessSocket {
    const [client, server] = InProcessSocket.pair();
    process.nextTick(() => {
      this.accept(server);
      if (!client.destroyed) client.emit("connect");
    });
    return client;
  }

  private accept(socket: PeerSocket): void {
    socket.on("error", () => {});
    if (this.closing) return void socket.destroy();
    if (this.peers.size >= this.options.maxConnections) {
      this.options.log(`refusing ${socket.remoteAddress}:${socket.remotePort}: ${this.options.maxConnections} connections already`);
      socket.end(encodeRaw("RES", PacketType.ERROR, ["TOO_MANY_CONNECTIONS", `the server allows ${this.options.maxConnections} connections`]));
      return;
    }
    const peer = new Peer(++this.peerCounter, socket, this);
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
      // A peer that does not read our replies stops being read (it cannot make us buffer without bound).
      if (peer.backedUp && !peer.closed && !socket.isPaused()) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    socket.once("close", () => this.disconnect(peer));
  }

  /** Answers a protocol violation with an ERROR packet and closes that connection. */
  private refuse(peer: Peer, error: unknown): void {
    if (peer.closed) return;
    const code = error instanceof PeerViolation ? error.replyCode : error instanceof GearmanError && error.code === "PACKET_TOO_LARGE" ? "PACKET_TOO_LARGE" : "PROTOCOL_ERROR";
    const message = error instanceof Error ? error.message : String(error);
    this.options.log(`closing ${peer.address}: ${message}`);
    peer.packet(PacketType.ERROR, code, Buffer.from(message).toString("latin1"));
    peer.flush();
    peer.closed = true;
    peer.socket.end();
    setTimeout(() => peer.socket.destroy(), 1000).unref();
  }

  /** @internal PeerHost: a peer stopped reading. */
  tooSlow(peer: Peer): void {
    if (peer.closed) return;
    this.options.log(`dropping ${peer.address}: it does not read what the server sends (over ${this.options.writeLimit} bytes waiting)`);
    peer.closed = true;
    peer.socket.destroy();
  }

  /** @internal PeerHost: runs before any reply leaves. */
  beforeFlush(): void {
    this.journal?.commit();
  }

  private disconnect(peer: Peer): void {
    peer.closed = true;
    this.peers.delete(peer);
    for (const func of peer.abilities.keys()) {
      const queue = this.functions.get(func);
      if (!queue) continue;
      queue.workers.delete(peer);
      queue.sleepers.delete(peer);
    }
    for (const job of [...peer.held]) this.release(job, `worker ${peer.address} disconnected`);
    for (const job of peer.waiting) job.removeClient(peer);
    peer.waiting.clear();
    // A worker woken for a job that it will now never grab: wake another one.
    if (peer.woken) {
      for (const func of peer.abilities.keys()) {
        const queue = this.functions.get(func);
        if (queue && queue.queued > 0) this.wakeOne(queue);
      }
    }
  }

  // ── dispatch ─────────────────────────────────────────────────────────────

  private onPacket(peer: Peer, packet: Packet): void {
    if (peer.closed) return;
    const type = packet.type;
    const body = packet.body;
    const submit = SUBMIT[type];
    if (submit !== undefined) {
      const a = body.indexOf(NUL);
      const b = a < 0 ? -1 : body.indexOf(NUL, a + 1);
      if (b < 0) throw protocolError(`${packetName(type)} needs 3 arguments (function, unique, data)`, peer.address);
      return this.submit(peer, arg(body, 0, a), arg(body, a + 1, b), payloadOf(body, b + 1), submit.priority, submit.background, 0, "");
    }
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
        return this.sleep(peer);
      case PacketType.CAN_DO:
        return this.canDo(peer, arg(body, 0, body.length), 0);
      case PacketType.CAN_DO_TIMEOUT: {
        const [func, timeout] = splitArgs(body, 2, "CAN_DO_TIMEOUT");
        // Milliseconds, as gearmand 1.1.20 reads it (measured; PROTOCOL does not say).
        const ms = Number(timeout.toString("latin1"));
        return this.canDo(peer, func.toString("latin1"), Number.isFinite(ms) && ms > 0 ? ms : 0);
      }
      case PacketType.CANT_DO:
        return this.cantDo(peer, arg(body, 0, body.length));
      case PacketType.RESET_ABILITIES:
        for (const func of [...peer.abilities.keys()]) this.cantDo(peer, func);
        return;
      case PacketType.SET_CLIENT_ID:
        peer.clientId = arg(body, 0, body.length).replace(/[\s\0]/g, "_") || "-";
        return;
      case PacketType.SUBMIT_JOB_EPOCH: {
        const [func, unique, epoch, data] = splitArgs(body, 4, "SUBMIT_JOB_EPOCH");
        const when = Number(epoch.toString("latin1"));
        if (!Number.isSafeInteger(when) || when < 0) return peer.packet(PacketType.ERROR, "INVALID_EPOCH", `epoch "${epoch.toString("latin1").slice(0, 32)}" is not a whole number of seconds`);
        return this.submit(peer, func.toString("latin1"), unique.toString("latin1"), payloadOf(data, 0), Priority.Normal, true, when, "");
      }
      case PacketType.SUBMIT_REDUCE_JOB:
      case PacketType.SUBMIT_REDUCE_JOB_BACKGROUND: {
        // As gearmand: function, unique, reducer, aggregator (ignored), data.
        const [func, unique, reducer, , data] = splitArgs(body, 5, packetName(type));
        return this.submit(peer, func.toString("latin1"), unique.toString("latin1"), payloadOf(data, 0), Priority.Normal, type === PacketType.SUBMIT_REDUCE_JOB_BACKGROUND, 0, reducer.toString("latin1"));
      }
      case PacketType.GET_STATUS:
        return this.status(peer, arg(body, 0, body.length));
      case PacketType.GET_STATUS_UNIQUE:
        return this.statusUnique(peer, arg(body, 0, body.length));
      case PacketType.ECHO_REQ:
        return peer.packet(PacketType.ECHO_RES, arg(body, 0, body.length));
      case PacketType.OPTION_REQ: {
        const option = arg(body, 0, body.length);
        if (option !== "exceptions") return peer.packet(PacketType.ERROR, "UNKNOWN_OPTION", "Server does not recognize given option");
        peer.exceptions = true;
        return peer.packet(PacketType.OPTION_RES, option);
      }
      case PacketType.SUBMIT_JOB_SCHED:
      case PacketType.ALL_YOURS:
        return peer.packet(PacketType.ERROR, "INVALID_COMMAND", "Command not expected");
      default:
        throw unexpectedPacket(packetName(type) ?? `type ${type}`, peer.address);
    }
  }

  // ── clients ──────────────────────────────────────────────────────────────

  private submit(peer: Peer, func: string, unique: string, data: Payload, priority: Priority, background: boolean, epoch: number, reducer: string): void {
    if (unique.length > MAX_UNIQUE) return peer.packet(PacketType.ERROR, "ARGUMENT_TOO_LARGE", "Unique value too large");
    const queue = this.queueFor(func);
    const key = unique === "" ? "" : uniqueKey(unique, data);
    if (key !== "") {
      const existing = queue.unique.get(key);
      if (existing !== undefined) {
        if (!background) existing.addClient(peer);
        return peer.packet(PacketType.JOB_CREATED, this.handleOf(existing));
      }
    }
    const limit = queue.maxQueue?.[priority] ?? this.options.maxQueue;
    if (limit > 0 && queue.total >= limit) return peer.packet(PacketType.ERROR, "QUEUE_ERROR", "Job queue is full");
    const job = new Job(++this.jobCounter, queue, unique, data, priority, background);
    if (epoch > 0 || reducer !== "") {
      const extra = job.more();
      extra.epoch = epoch;
      extra.reducer = reducer;
    }
    if (background) this.journal?.add(this.entryOf(job));
    else job.addClient(peer);
    this.admit(job, key);
    peer.packet(PacketType.JOB_CREATED, this.handleOf(job));
  }

  /** Indexes a job and queues it now, or when its epoch comes (a timer, no polling). */
  private admit(job: Job, key: string): void {
    const queue = job.queue;
    this.jobs.set(job.id, job);
    if (key !== "") queue.unique.set(key, job);
    const delayMs = job.epoch * 1000 - Date.now();
    if (delayMs > 0) {
      queue.scheduled++;
      const timer = setTimeout(() => this.due(job), Math.min(delayMs, 2 ** 31 - 1));
      timer.unref();
      job.more().epochTimer = timer;
      return;
    }
    this.enqueue(job, false);
  }

  private due(job: Job): void {
    const extra = job.more();
    extra.epochTimer = undefined;
    if (!job.live) return;
    const delayMs = job.epoch * 1000 - Date.now();
    if (delayMs > 0) {
      // Beyond setTimeout's range (about 24.8 days): wait again.
      extra.epochTimer = setTimeout(() => this.due(job), Math.min(delayMs, 2 ** 31 - 1));
      extra.epochTimer.unref();
      return;
    }
    job.queue.scheduled--;
    this.enqueue(job, false);
  }

  private enqueue(job: Job, front: boolean): void {
    const fifo = job.queue.queues[job.priority];
    if (front) fifo.unshift(job);
    else fifo.push(job);
    this.wakeOne(job.queue);
  }

  private restore(entry: JournalEntry): void {
    if (entry.id > this.jobCounter) this.jobCounter = entry.id;
    const queue = this.queueFor(entry.func);
    const job = new Job(entry.id, queue, entry.unique, entry.data, entry.priority as Priority, true);
    if (entry.epoch > 0 || entry.reducer !== "") {
      const extra = job.more();
      extra.epoch = entry.epoch;
      extra.reducer = entry.reducer;
    }
    this.admit(job, entry.unique === "" ? "" : uniqueKey(entry.unique, entry.data));
  }

  private status(peer: Peer, handle: string): void {
    const job = this.jobByHandle(handle);
    if (job === undefined) return peer.packet(PacketType.STATUS_RES, handle, "0", "0", "0", "0");
    peer.packet(PacketType.STATUS_RES, handle, "1", job.worker ? "1" : "0", job.extra?.numerator ?? "0", job.extra?.denominator ?? "0");
  }

  private statusUnique(peer: Peer, unique: string): void {
    let job: Job | undefined;
    for (const queue of this.functions.values()) if ((job = queue.unique.get(unique)) !== undefined) break;
    if (job === undefined) return peer.send(encodeRaw("RES", PacketType.STATUS_RES_UNIQUE, [Buffer.from(unique, "latin1"), "0", "0", "0", "0", "0"]));
    const extra = job.extra;
    peer.send(
      encodeRaw("RES", PacketType.STATUS_RES_UNIQUE, [Buffer.from(unique, "latin1"), "1", job.worker ? "1" : "0", extra?.numerator ?? "0", extra?.denominator ?? "0", String(job.clients?.length ?? 0)]),
    );
  }

  // ── workers ──────────────────────────────────────────────────────────────

  private canDo(peer: Peer, func: string, timeoutMs: number): void {
    peer.abilities.set(func, timeoutMs);
    const queue = this.queueFor(func);
    queue.workers.add(peer);
    if (peer.sleeping) queue.sleepers.add(peer);
  }

  private cantDo(peer: Peer, func: string): void {
    peer.abilities.delete(func);
    const queue = this.functions.get(func);
    queue?.workers.delete(peer);
    queue?.sleepers.delete(peer);
  }

  /** PRE_SLEEP: the worker waits for a NOOP, unless there is work already. */
  private sleep(peer: Peer): void {
    peer.woken = false;
    for (const func of peer.abilities.keys()) {
      const queue = this.functions.get(func);
      if (queue !== undefined && queue.queued > 0 && !this.draining) {
        peer.woken = true;
        return peer.packet(PacketType.NOOP);
      }
    }
    peer.sleeping = true;
    for (const func of peer.abilities.keys()) this.functions.get(func)?.sleepers.add(peer);
  }

  private awake(peer: Peer): void {
    if (!peer.sleeping) return;
    peer.sleeping = false;
    for (const func of peer.abilities.keys()) this.functions.get(func)?.sleepers.delete(peer);
  }

  /** Wakes the longest-sleeping worker of a function: one NOOP per queued job, never a stampede. */
  private wakeOne(queue: FunctionQueue): void {
    if (this.draining) return;
    for (const worker of queue.sleepers) {
      this.awake(worker);
      worker.woken = true;
      worker.packet(PacketType.NOOP);
      return;
    }
  }

  /** Takes the next job for a worker: the highest priority first, across its functions in registration order. */
  private take(peer: Peer): Job | undefined {
    for (let priority = Priority.High; priority <= Priority.Low; priority++) {
      for (const func of peer.abilities.keys()) {
        const queue = this.functions.get(func);
        if (queue === undefined) continue;
        const fifo = queue.queues[priority];
        let job: Job | undefined;
        while ((job = fifo.shift()) !== undefined) {
          if (!job.live) continue;
          if (job.abandoned) {
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
    this.awake(peer);
    peer.woken = false;
    const job = this.draining ? undefined : this.take(peer);
    if (job === undefined) return peer.packet(PacketType.NO_JOB);
    job.worker = peer;
    peer.held.add(job);
    job.queue.running++;
    this.heldJobs++;
    const timeoutMs = peer.abilities.get(job.queue.name) ?? 0;
    if (timeoutMs > 0) {
      job.more().workTimer = setTimeout(() => this.release(job, `worker ${peer.address} did not finish within ${timeoutMs} ms (CAN_DO_TIMEOUT)`), timeoutMs);
    }
    const handle = this.handleOf(job);
    if (type === PacketType.GRAB_JOB) peer.packet(PacketType.JOB_ASSIGN, handle, job.queue.name, job.data);
    else if (type === PacketType.GRAB_JOB_ALL && job.reducer !== "") peer.packet(PacketType.JOB_ASSIGN_ALL, handle, job.queue.name, job.unique, job.reducer, job.data);
    else peer.packet(PacketType.JOB_ASSIGN_UNIQ, handle, job.queue.name, job.unique, job.data);
  }

  private work(peer: Peer, packet: Packet): void {
    const { type, body } = packet;
    const nul = body.indexOf(NUL);
    const handle = arg(body, 0, nul < 0 ? body.length : nul);
    const job = this.jobByHandle(handle);
    if (job === undefined || job.worker !== peer) {
      // Finished, requeued, cancelled or never this worker's: as gearmand, say so and carry on.
      return peer.packet(PacketType.ERROR, "JOB_NOT_FOUND", type === PacketType.WORK_EXCEPTION ? "An exception was received for a job that does not exist" : "Job given in work result not found");
    }
    if (type === PacketType.WORK_STATUS) {
      const [, numerator, denominator] = splitArgs(body, 3, "WORK_STATUS");
      const extra = job.more();
      extra.numerator = numerator.toString("latin1");
      extra.denominator = denominator.toString("latin1");
    }
    const clients = job.clients;
    if (clients !== undefined) {
      for (const client of clients) {
        if (type === PacketType.WORK_EXCEPTION && !client.exceptions) client.packet(PacketType.WORK_FAIL, handle);
        else client.forward(packet);
      }
    }
    if (type === PacketType.WORK_COMPLETE || type === PacketType.WORK_FAIL || type === PacketType.WORK_EXCEPTION) this.finish(job);
  }

  /** A worker lost a job (disconnect, CAN_DO_TIMEOUT): back to the front of its queue, or failed past jobRetries. */
  private release(job: Job, why: string): void {
    if (!job.live || job.worker === undefined) return;
    this.unhold(job);
    job.retries++;
    const cap = this.options.jobRetries;
    if (cap > 0 && job.retries >= cap) {
      this.options.log(`job ${this.handleOf(job)} (${job.queue.name}) failed: ${why}; its worker was lost ${job.retries} times`);
      if (job.clients !== undefined) for (const client of job.clients) client.packet(PacketType.WORK_FAIL, this.handleOf(job));
      return this.forget(job);
    }
    this.enqueue(job, true);
  }

  private unhold(job: Job): void {
    const worker = job.worker;
    if (worker === undefined) return;
    worker.held.delete(job);
    job.worker = undefined;
    job.queue.running--;
    this.heldJobs--;
    if (job.extra?.workTimer !== undefined) {
      clearTimeout(job.extra.workTimer);
      job.extra.workTimer = undefined;
    }
    if (this.heldJobs === 0) this.drained?.();
  }

  /** A job ended: forget it everywhere. */
  private finish(job: Job): void {
    this.unhold(job);
    this.forget(job);
  }

  private forget(job: Job): void {
    if (!job.live) return;
    job.live = false;
    const extra = job.extra;
    if (extra?.epochTimer !== undefined) {
      clearTimeout(extra.epochTimer);
      extra.epochTimer = undefined;
      job.queue.scheduled--;
    }
    this.jobs.delete(job.id);
    const queue = job.queue;
    if (job.unique !== "") {
      const key = uniqueKey(job.unique, job.data);
      if (queue.unique.get(key) === job) queue.unique.delete(key);
    }
    if (job.clients !== undefined) for (const client of job.clients) client.waiting.delete(job);
    job.clients = undefined;
    if (job.background) this.journal?.done(job.id);
  }

  // ── shared with admin-commands ───────────────────────────────────────────

  /** @internal */
  queueFor(func: string): FunctionQueue {
    let queue = this.functions.get(func);
    if (queue === undefined) this.functions.set(func, (queue = new FunctionQueue(func)));
    return queue;
  }

  /** @internal */
  handleOf(job: Job): string {
    return this.handleHead + job.id;
  }

  /** @internal The live job a handle names, if any (handles are `H:<prefix>:<id>`). */
  jobByHandle(handle: string): Job | undefined {
    const head = this.handleHead;
    if (handle.length <= head.length || handle.length > head.length + 16 || !handle.startsWith(head)) return undefined;
    let id = 0;
    for (let i = head.length; i < handle.length; i++) {
      const digit = handle.charCodeAt(i) - 48;
      if (digit < 0 || digit > 9 || (digit === 0 && i === head.length)) return undefined;
      id = id * 10 + digit;
    }
    return this.jobs.get(id);
  }

  /** @internal admin `cancel job`: removes a queued (not running) job. */
  cancelQueued(handle: string): boolean {
    const job = this.jobByHandle(handle);
    if (job === undefined || job.worker !== undefined) return false;
    const scheduled = job.extra?.epochTimer !== undefined;
    if (!scheduled && !job.queue.queues[job.priority].remove(job)) return false;
    this.forget(job);
    return true;
  }

  private entryOf(job: Job): JournalEntry {
    return { id: job.id, func: job.queue.name, unique: job.unique, priority: job.priority, epoch: job.epoch, reducer: job.reducer, data: payloadString(job.data) };
  }

  private *liveBackgroundJobs(): Iterable<JournalEntry> {
    for (const job of this.jobs.values()) if (job.background) yield this.entryOf(job);
  }

  // ── shutdown ─────────────────────────────────────────────────────────────

  /**
   * Stops the server. Graceful: stop accepting and stop handing out jobs,
   * let workers finish the jobs they hold (up to `graceMs`, default 30 s),
   * then close every connection. Otherwise close every connection at once.
   * The journal keeps every unfinished background job. A non-graceful call
   * during a graceful close cuts the wait short.
   */
  close(options: { graceful?: boolean; graceMs?: number } = {}): Promise<void> {
    if (!options.graceful) this.drained?.();
    this.closing ??= (async () => {
      const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      if (options.graceful && this.heldJobs > 0) {
        this.draining = true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.graceMs ?? 30_000);
          this.drained = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        // Let the last results reach their clients.
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const peer of this.peers) {
        peer.flush();
        peer.socket.destroy();
      }
      for (const job of this.jobs.values()) {
        if (job.extra?.epochTimer !== undefined) clearTimeout(job.extra.epochTimer);
        if (job.extra?.workTimer !== undefined) clearTimeout(job.extra.workTimer);
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
