/**
 * A Gearman client over one or many job servers.
 *
 *   submitJob ──pick server (hash of unique, else round robin)──► ServerLink.awaiting (FIFO) ──SUBMIT_JOB*──► server
 *   JOB_CREATED ──► head of awaiting gets its handle ──► ServerLink.jobs[handle]
 *   WORK_DATA / WARNING / STATUS / EXCEPTION ──► job events; WORK_COMPLETE ──► result; WORK_FAIL ──► JobError
 *   connection lost ──► every unfinished job on it is resubmitted elsewhere (failover) or waits for a server
 *
 * A server answers the requests of one connection in order, so replies that
 * carry no handle (JOB_CREATED, ECHO_RES, STATUS_RES, OPTION_RES, ERROR) are
 * matched against the FIFO of requests awaiting a reply on that connection.
 */
import { EventEmitter } from "node:events";
import net from "node:net";
import { ServerConnection } from "./connection.js";
import { encodePacket, encodeRaw, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { formatAddress } from "./address.js";
import { ClientJob } from "./client-job.js";
import { fillClientOptions, toBuffer, type BackgroundOptions, type ClientOptions, type FilledClientOptions, type Priority, type SubmitOptions } from "./client-options.js";
import { abortedError, closedError, GearmanError, JobError, noServer, protocolError, ServerError, timeoutError } from "./errors.js";

export { ClientJob } from "./client-job.js";
export type { ClientOptions, SubmitOptions, BackgroundOptions, Priority } from "./client-options.js";

export interface JobStatus {
  readonly handle: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
}

export interface UniqueStatus {
  readonly unique: string;
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  readonly clientCount: number;
}

type Awaiting =
  | { kind: "submit"; job: ClientJob }
  | { kind: "reply"; expect: number; resolve: (packet: Packet) => void; reject: (error: Error) => void; what: string };

const FOREGROUND_TYPE: Record<Priority, number> = { high: PacketType.SUBMIT_JOB_HIGH, normal: PacketType.SUBMIT_JOB, low: PacketType.SUBMIT_JOB_LOW };
const BACKGROUND_TYPE: Record<Priority, number> = { high: PacketType.SUBMIT_JOB_HIGH_BG, normal: PacketType.SUBMIT_JOB_BG, low: PacketType.SUBMIT_JOB_LOW_BG };

/** One job server as this client sees it. */
class ServerLink {
  readonly awaiting: Awaiting[] = [];
  readonly jobs = new Map<string, ClientJob>();
  constructor(readonly connection: ServerConnection) {}
  get name(): string {
    return this.connection.name;
  }
}

export class GearmanClient extends EventEmitter {
  private readonly options: FilledClientOptions;
  private readonly links: ServerLink[];
  /** Jobs waiting for any server to be connected. */
  private readonly waiting = new Set<ClientJob>();
  private readonly jobTimers = new Map<ClientJob, NodeJS.Timeout>();
  private readonly jobOptions = new WeakMap<ClientJob, SubmitOptions & { failovers: number }>();
  private readonly jobLinks = new Map<ClientJob, ServerLink>();
  private roundRobin = 0;
  private closed = false;

  constructor(options: ClientOptions) {
    super();
    this.options = fillClientOptions(options);
    this.links = this.options.servers.map((address) => {
      const link: ServerLink = new ServerLink(
        new ServerConnection(address, {
          maxPacketSize: this.options.maxPacketSize,
          reconnect: this.options.reconnect,
          connectTimeoutMs: this.options.connectTimeoutMs,
          tls: this.options.tls,
          open: this.options.open,
          onPacket: (packet) => this.onPacket(link, packet),
          onConnect: () => this.onConnect(link),
          onDisconnect: (error) => this.onDisconnect(link, error),
        }),
      );
      return link;
    });
    for (const l of this.links) l.connection.open();
  }

  /** Servers connected right now. */
  get connectedServers(): string[] {
    return this.links.filter((l) => l.connection.connected).map((l) => l.name);
  }

  /** Submits a foreground job; its `result` resolves with the WORK_COMPLETE data. */
  submitJob(func: string, data: Buffer | Uint8Array | string, options: SubmitOptions = {}): ClientJob {
    checkFunc(func);
    const job = new ClientJob(func, options.unique ?? "", toBuffer(data), options.priority ?? "normal", false, undefined);
    this.jobOptions.set(job, { ...options, failovers: 0 });
    if (this.closed) {
      job.finish(closedError("GearmanClient"));
      return job;
    }
    this.arm(job, options);
    this.dispatch(job);
    return job;
  }

  /** Submits a background job; resolves with its handle once the server accepted it. */
  submitBackground(func: string, data: Buffer | Uint8Array | string, options: BackgroundOptions = {}): Promise<string> {
    checkFunc(func);
    const epoch = options.epoch === undefined ? undefined : options.epoch instanceof Date ? Math.floor(options.epoch.getTime() / 1000) : options.epoch;
    const job = new ClientJob(func, options.unique ?? "", toBuffer(data), options.priority ?? "normal", true, epoch);
    this.jobOptions.set(job, { unique: options.unique, signal: options.signal, failovers: 0 });
    if (this.closed) job.finish(closedError("GearmanClient"));
    else {
      this.arm(job, { signal: options.signal });
      this.dispatch(job);
    }
    return job.result.then((bytes) => bytes.toString());
  }

  /** Sets the job's timer and abort wiring for one attempt. */
  private arm(job: ClientJob, options: SubmitOptions): void {
    job.canceller = (reason) => this.cancelJob(job, reason);
    if (options.signal) {
      if (options.signal.aborted) return void this.cancelJob(job, options.signal.reason);
      const onAbort = () => this.cancelJob(job, options.signal!.reason);
      options.signal.addEventListener("abort", onAbort, { once: true });
      job.result.finally(() => options.signal!.removeEventListener("abort", onAbort)).catch(() => {});
    }
    this.restartTimer(job);
  }

  private restartTimer(job: ClientJob): void {
    const timeoutMs = this.jobOptions.get(job)?.timeoutMs;
    clearTimeout(this.jobTimers.get(job));
    if (timeoutMs === undefined) return;
    this.jobTimers.set(
      job,
      setTimeout(() => this.failAttempt(job, timeoutError(`job ${job.handle ?? "(not yet created)"} (${job.func})`, timeoutMs)), timeoutMs),
    );
  }

  private pickLink(job: ClientJob, avoid?: ServerLink): ServerLink | undefined {
    const links = this.links;
    if (links.length === 1) return links[0].connection.connected ? links[0] : undefined;
    if (job.unique !== "") {
      const preferred = links[hash(job.unique) % links.length];
      if (preferred !== avoid && preferred.connection.connected) return preferred;
    }
    for (let i = 0; i < links.length; i++) {
      const link = links[this.roundRobin++ % links.length];
      if (link !== avoid && link.connection.connected) return link;
    }
    return avoid?.connection.connected ? avoid : undefined;
  }

  private dispatch(job: ClientJob, avoid?: ServerLink): void {
    if (job.settled) return;
    const link = this.pickLink(job, avoid);
    if (!link) {
      this.waitForServer(job);
      return;
    }
    job.attempts++;
    job.handle = undefined;
    job.server = link.name;
    this.jobLinks.set(job, link);
    link.awaiting.push({ kind: "submit", job });
    link.connection.send(this.encodeSubmit(job));
  }

  private encodeSubmit(job: ClientJob): Buffer {
    if (job.epoch !== undefined) {
      return encodePacket("REQ", "SUBMIT_JOB_EPOCH", { func: job.func, unique: job.unique, epoch: job.epoch, data: job.data });
    }
    const type = (job.background ? BACKGROUND_TYPE : FOREGROUND_TYPE)[job.priority];
    return encodeRaw("REQ", type, [job.func, job.unique, job.data]);
  }

  private waitForServer(job: ClientJob): void {
    this.waiting.add(job);
    const timer = setTimeout(() => {
      if (this.waiting.delete(job)) this.finish(job, noServer(`job ${job.func}`, this.links.map((l) => l.name)));
    }, this.options.noServerTimeoutMs);
    job.result.finally(() => clearTimeout(timer)).catch(() => {});
  }

  private onConnect(link: ServerLink): void {
    if (this.options.clientId) link.connection.send(encodePacket("REQ", "SET_CLIENT_ID", { id: this.options.clientId }));
    if (this.options.exceptions) {
      link.awaiting.push({ kind: "reply", expect: PacketType.OPTION_RES, what: "OPTION_REQ exceptions", resolve: () => {}, reject: () => {} });
      link.connection.send(encodePacket("REQ", "OPTION_REQ", { option: "exceptions" }));
    }
    this.emit("connect", link.name);
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const job of waiting) this.dispatch(job);
  }

  private onDisconnect(link: ServerLink, error: GearmanError): void {
    const orphans = new Set<ClientJob>();
    for (const entry of link.awaiting.splice(0)) {
      if (entry.kind === "submit") orphans.add(entry.job);
      else entry.reject(error);
    }
    for (const job of link.jobs.values()) orphans.add(job);
    link.jobs.clear();
    if (this.listenerCount("disconnect") > 0 || orphans.size > 0) this.emit("disconnect", link.name, error);
    for (const job of orphans) {
      if (job.settled) continue;
      const state = this.jobOptions.get(job)!;
      if (++state.failovers > this.options.maxFailovers) {
        this.finish(job, new GearmanError("CONNECTION", `job ${job.handle ?? "?"} (${job.func}) lost its job server ${state.failovers} times; last: ${error.message}`, { cause: error }));
        continue;
      }
      const from = link.name;
      this.dispatch(job, link);
      if (job.server !== from) job.emit("failover", from, job.server);
    }
  }

  private onPacket(link: ServerLink, packet: Packet): void {
    switch (packet.type) {
      case PacketType.JOB_CREATED: {
        const head = link.awaiting.shift();
        if (head?.kind !== "submit") return this.peerError(link, `JOB_CREATED with no submission awaiting it`);
        const job = head.job;
        const handle = packet.body.toString();
        job.handle = handle;
        if (job.settled) {
          // Cancelled before the server answered: take it off the server's queue.
          if (!job.background) void cancelQueuedJob(link, handle);
          return;
        }
        if (job.background) return void this.finish(job, undefined, Buffer.from(handle));
        link.jobs.set(handle, job);
        job.emit("created", handle);
        return;
      }
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_EXCEPTION:
      case PacketType.WORK_STATUS:
      case PacketType.WORK_FAIL:
        return this.onWork(link, packet);
      case PacketType.ECHO_RES:
      case PacketType.STATUS_RES:
      case PacketType.STATUS_RES_UNIQUE:
      case PacketType.OPTION_RES: {
        const head = link.awaiting[0];
        if (head?.kind !== "reply" || head.expect !== packet.type) return this.peerError(link, `unexpected ${packet.name}`);
        link.awaiting.shift();
        head.resolve(packet);
        return;
      }
      case PacketType.ERROR: {
        const { code, text } = packet.args("ERROR");
        const head = link.awaiting.shift();
        if (!head) return this.peerError(link, `ERROR ${code} ${text} with no request awaiting a reply`);
        if (head.kind === "submit") this.finish(head.job, new ServerError(code, text, `job ${head.job.func}`));
        else head.reject(new ServerError(code, text, head.what));
        return;
      }
      case PacketType.NOOP:
        return;
      default:
        return this.peerError(link, `unexpected packet ${packet.name} for a client`);
    }
  }

  private onWork(link: ServerLink, packet: Packet): void {
    const nul = packet.body.indexOf(0);
    const handle = packet.body.toString("utf8", 0, nul < 0 ? packet.body.length : nul);
    const job = link.jobs.get(handle);
    if (!job) return; // a job this client gave up on (timeout, cancel): late packets are expected
    const rest = nul < 0 ? Buffer.alloc(0) : packet.body.subarray(nul + 1);
    switch (packet.type) {
      case PacketType.WORK_COMPLETE:
        link.jobs.delete(handle);
        return void this.finish(job, undefined, Buffer.from(rest));
      case PacketType.WORK_DATA:
        return void job.emit("data", Buffer.from(rest));
      case PacketType.WORK_WARNING:
        return void job.emit("warning", Buffer.from(rest));
      case PacketType.WORK_STATUS: {
        const { numerator, denominator } = packet.args("WORK_STATUS");
        return void job.emit("status", Number(numerator), Number(denominator));
      }
      case PacketType.WORK_EXCEPTION: {
        link.jobs.delete(handle);
        const exception = Buffer.from(rest);
        job.emit("exception", exception);
        return this.failAttempt(job, new JobError(job.func, handle, exception, job.attempts));
      }
      case PacketType.WORK_FAIL:
        link.jobs.delete(handle);
        return this.failAttempt(job, new JobError(job.func, handle, undefined, job.attempts));
    }
  }

  /** An attempt failed: retry if the job has retries left, else reject it. */
  private failAttempt(job: ClientJob, error: GearmanError): void {
    if (job.settled) return;
    const options = this.jobOptions.get(job)!;
    this.forget(job);
    if (!job.background && job.attempts <= (options.retries ?? 0)) {
      job.emit("retry", job.attempts + 1, error);
      this.restartTimer(job);
      this.dispatch(job);
      return;
    }
    this.finish(job, error);
  }

  private forget(job: ClientJob): void {
    const link = this.jobLinks.get(job);
    if (link && job.handle !== undefined && link.jobs.get(job.handle) === job) link.jobs.delete(job.handle);
    this.jobLinks.delete(job);
    this.waiting.delete(job);
  }

  private finish(job: ClientJob, error: Error | undefined, data?: Buffer): void {
    this.forget(job);
    clearTimeout(this.jobTimers.get(job));
    this.jobTimers.delete(job);
    job.finish(error, data);
  }

  private cancelJob(job: ClientJob, reason: unknown): void {
    if (job.settled) return;
    const link = this.jobLinks.get(job);
    const handle = job.handle;
    this.finish(job, abortedError(`job ${handle ?? "(not yet created)"} (${job.func})`, reason));
    if (link && handle !== undefined && !job.background) void cancelQueuedJob(link, handle);
  }

  /** A server sent something a client cannot make sense of: drop the connection (its jobs fail over). */
  private peerError(link: ServerLink, message: string): void {
    link.connection.drop(protocolError(message, link.name));
  }

  private request(link: ServerLink | undefined, bytes: Buffer, expect: number, what: string): Promise<Packet> {
    if (this.closed) return Promise.reject(closedError("GearmanClient"));
    if (!link || !link.connection.connected) return Promise.reject(noServer(what, this.links.map((l) => l.name)));
    return new Promise((resolve, reject) => {
      link.awaiting.push({ kind: "reply", expect, resolve, reject, what });
      link.connection.send(bytes);
    });
  }

  private linkFor(server?: string): ServerLink | undefined {
    if (server === undefined) return this.links.find((l) => l.connection.connected);
    return this.links.find((l) => l.name === server || formatAddress(l.connection.address) === server);
  }

  async getStatus(handle: string, server?: string): Promise<JobStatus> {
    const packet = await this.request(this.linkFor(server), encodePacket("REQ", "GET_STATUS", { handle }), PacketType.STATUS_RES, `GET_STATUS ${handle}`);
    const a = packet.args("STATUS_RES");
    return { handle: a.handle, known: a.known === "1", running: a.running === "1", numerator: Number(a.numerator), denominator: Number(a.denominator) };
  }

  async getStatusUnique(unique: string, server?: string): Promise<UniqueStatus> {
    const link = server === undefined ? this.links[hash(unique) % this.links.length] : this.linkFor(server);
    const packet = await this.request(
      link?.connection.connected ? link : this.linkFor(),
      encodePacket("REQ", "GET_STATUS_UNIQUE", { unique }),
      PacketType.STATUS_RES_UNIQUE,
      `GET_STATUS_UNIQUE ${unique}`,
    );
    const a = packet.args("STATUS_RES_UNIQUE");
    return {
      unique: a.unique,
      known: a.known === "1",
      running: a.running === "1",
      numerator: Number(a.numerator),
      denominator: Number(a.denominator),
      clientCount: Number(a.clientCount),
    };
  }

  async echo(data: Buffer | string = "ping", server?: string): Promise<Buffer> {
    const packet = await this.request(this.linkFor(server), encodePacket("REQ", "ECHO_REQ", { data: toBuffer(data) }), PacketType.ECHO_RES, "ECHO_REQ");
    return Buffer.from(packet.body);
  }

  /** Rejects every unfinished job with CLOSED and releases every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = closedError("GearmanClient");
    for (const job of [...this.jobLinks.keys(), ...this.waiting]) this.finish(job, error);
    for (const link of this.links) for (const entry of link.awaiting.splice(0)) if (entry.kind === "reply") entry.reject(error);
    await Promise.all(this.links.map((l) => l.connection.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function checkFunc(func: string): void {
  if (typeof func !== "string" || func === "" || func.includes("\0")) throw new TypeError(`function name must be a non-empty string without NUL bytes, got ${JSON.stringify(func)}`);
}

/** FNV-1a: a stable server choice for a unique id, the same in every client process. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Best effort: removes a still-queued job from its server with the admin command `cancel job`. */
function cancelQueuedJob(link: ServerLink, handle: string): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: link.connection.address.host, port: link.connection.address.port });
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.setTimeout(2000, done);
    socket.once("error", done);
    socket.once("connect", () => socket.write(`cancel job ${handle}\n`));
    socket.once("data", done);
  });
}
