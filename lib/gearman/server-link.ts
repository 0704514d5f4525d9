/**
 * One job server as a GearmanClient sees it: its connection, the requests
 * awaiting a reply in the order they were sent, the jobs it runs by handle,
 * and an admin connection (opened on first use, with the client's `tls` and
 * `open`) that cancels jobs on it.
 *
 * A server answers one connection's requests in order, so a reply that
 * carries no handle (JOB_CREATED, ECHO_RES, STATUS_RES, STATUS_RES_UNIQUE,
 * OPTION_RES, ERROR) belongs to the oldest request awaiting one; WORK_*
 * packets name their job's handle.
 *
 *   submit(s) ──► awaiting.push(s) ──SUBMIT_JOB*──► server
 *   JOB_CREATED ──► awaiting.shift() ─┬─ a submission ──► owner.created(link, s, handle)
 *                                     └─ an attempt given up before the answer ──► owner.createdTooLate(link, s, handle)
 *   ERROR ──► awaiting.shift() ──► owner.refused(link, s, error) | the request rejects
 *   ECHO_RES, STATUS_RES*, OPTION_RES ──► awaiting.shift() ──► the request resolves
 *   WORK_* ──► jobs[handle] ──► owner.work(link, s, packet, rest)
 *   withdraw(handle) ──► AdminClient "cancel job HANDLE"
 *   connection lost ──► owner.disconnected(link, the submissions it held, error)
 */
import { AdminClient } from "./admin.js";
import type { ServerAddress } from "./address.js";
import type { FilledClientOptions } from "./client-options.js";
import { ServerConnection } from "./connection.js";
import { closedError, protocolError, ServerError, type GearmanError } from "./errors.js";
import { encodePacket, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { handleText } from "./job-handle.js";

/** What a link needs of a submission (the client's Submission, submission.ts, which this file never imports). */
export interface LinkJob {
  readonly func: string;
  /** Its handle here, once JOB_CREATED named it. */
  readonly handle: string | undefined;
  /** Its SUBMIT_JOB* packet, as buffers to write one after the other. */
  encode(): Buffer[];
}

/** What a link reports to the client that owns it. */
export interface LinkOwner<J extends LinkJob> {
  connected(link: ServerLink<J>): void;
  disconnected(link: ServerLink<J>, orphans: readonly J[], error: GearmanError): void;
  created(link: ServerLink<J>, submission: J, handle: string): void;
  /** JOB_CREATED for a submission the client gave up (cancel, timeout) before the server answered. */
  createdTooLate(link: ServerLink<J>, submission: J, handle: string): void;
  refused(link: ServerLink<J>, submission: J, error: ServerError): void;
  /** WORK_DATA, WORK_WARNING, WORK_STATUS, WORK_COMPLETE, WORK_FAIL or WORK_EXCEPTION; `rest` is the data after the handle (a view: copy to keep). */
  work(link: ServerLink<J>, submission: J, packet: Packet, rest: Buffer): void;
}

/** A request other than a submission, awaiting its reply. */
class PendingReply {
  constructor(
    readonly expect: number,
    readonly what: string,
    readonly resolve: (packet: Packet) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

/** Stands in the FIFO for a submission given up before its JOB_CREATED, so the handle can still be cancelled. */
class GivenUpAttempt<J> {
  constructor(readonly submission: J) {}
}

type Awaiting<J> = J | PendingReply | GivenUpAttempt<J>;

const NO_DATA = Buffer.alloc(0);

export class ServerLink<J extends LinkJob> {
  readonly connection: ServerConnection;
  private readonly awaiting: Awaiting<J>[] = [];
  /** Foreground jobs created on this server and not finished, by handle. */
  private readonly jobs = new Map<string, J>();
  private admin: AdminClient | undefined;
  private readonly withdrawals = new Set<Promise<void>>();

  constructor(
    address: ServerAddress,
    private readonly options: FilledClientOptions,
    private readonly owner: LinkOwner<J>,
  ) {
    this.connection = new ServerConnection(address, {
      maxPacketSize: options.maxPacketSize,
      reconnect: options.reconnect,
      connectTimeoutMs: options.connectTimeoutMs,
      tls: options.tls,
      open: options.open,
      onPacket: (packet) => this.onPacket(packet),
      onConnect: () => this.onConnect(),
      onDisconnect: (error) => this.onDisconnect(error),
    });
  }

  get name(): string {
    return this.connection.name;
  }

  get connected(): boolean {
    return this.connection.connected;
  }

  /** Sends the submission; its JOB_CREATED (or ERROR) is the next reply. */
  submit(submission: J): void {
    this.awaiting.push(submission);
    for (const part of submission.encode()) this.connection.send(part);
  }

  /** The job now runs under `handle` here: WORK_* packets for it reach the owner. */
  track(handle: string, submission: J): void {
    this.jobs.set(handle, submission);
  }

  /** Takes the submission off this link: WORK_* for it are ignored from now on, a JOB_CREATED still to come goes to createdTooLate. */
  release(submission: J): void {
    const handle = submission.handle;
    if (handle !== undefined) {
      if (this.jobs.get(handle) === submission) this.jobs.delete(handle);
      return;
    }
    const at = this.awaiting.indexOf(submission);
    if (at >= 0) this.awaiting[at] = new GivenUpAttempt(submission);
  }

  /** Sends a request answered by a packet of type `expect` (the caller checked `connected`). */
  request(bytes: Buffer, expect: number, what: string): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.awaiting.push(new PendingReply(expect, what, resolve, reject));
      this.connection.send(bytes);
    });
  }

  /**
   * Cancels job `handle` on this server with the admin command `cancel job`,
   * best effort: ERR UNKNOWN_JOB (the job finished, or, on the embedded
   * server, a worker took it) and connection failures are ignored.
   */
  withdraw(handle: string): void {
    this.admin ??= new AdminClient(this.name, {
      timeoutMs: this.options.connectTimeoutMs,
      tls: this.options.tls,
      open: this.options.open,
    });
    const done = this.admin.cancelJob(handle).catch(ignore);
    this.withdrawals.add(done);
    void done.then(() => this.withdrawals.delete(done));
  }

  /** Every submission this link holds (awaiting JOB_CREATED or running), for the client's close. */
  submissions(): J[] {
    const held: J[] = [];
    for (const entry of this.awaiting) if (isSubmission(entry)) held.push(entry);
    for (const submission of this.jobs.values()) held.push(submission);
    return held;
  }

  /** Closes for good: the requests still awaiting replies reject with CLOSED; cancels under way finish first. */
  async close(): Promise<void> {
    const error = closedError("GearmanClient");
    for (const entry of this.awaiting.splice(0)) if (entry instanceof PendingReply) entry.reject(error);
    this.jobs.clear();
    await Promise.all([
      this.connection.close(),
      (async () => {
        await Promise.all(this.withdrawals);
        await this.admin?.close();
      })(),
    ]);
  }

  private onConnect(): void {
    const { clientId, exceptions } = this.options;
    if (clientId !== undefined) this.connection.send(encodePacket("REQ", "SET_CLIENT_ID", { id: clientId }));
    if (exceptions) {
      this.awaiting.push(new PendingReply(PacketType.OPTION_RES, "OPTION_REQ exceptions", ignore, ignore));
      this.connection.send(encodePacket("REQ", "OPTION_REQ", { option: "exceptions" }));
    }
    this.owner.connected(this);
  }

  private onDisconnect(error: GearmanError): void {
    const orphans: J[] = [];
    for (const entry of this.awaiting.splice(0)) {
      if (entry instanceof PendingReply) entry.reject(error);
      else if (isSubmission(entry)) orphans.push(entry);
    }
    for (const submission of this.jobs.values()) orphans.push(submission);
    this.jobs.clear();
    this.owner.disconnected(this, orphans, error);
  }

  private onPacket(packet: Packet): void {
    switch (packet.type) {
      case PacketType.JOB_CREATED: {
        const head = this.awaiting.shift();
        const handle = handleText(packet.body);
        if (head === undefined || head instanceof PendingReply)
          return this.peerError("JOB_CREATED with no submission awaiting it");
        if (head instanceof GivenUpAttempt) return this.owner.createdTooLate(this, head.submission, handle);
        return this.owner.created(this, head, handle);
      }
      case PacketType.WORK_COMPLETE:
      case PacketType.WORK_DATA:
      case PacketType.WORK_WARNING:
      case PacketType.WORK_EXCEPTION:
      case PacketType.WORK_STATUS:
      case PacketType.WORK_FAIL: {
        const body = packet.body;
        const nul = body.indexOf(0);
        const submission = this.jobs.get(handleText(body, 0, nul < 0 ? body.length : nul));
        // Absent: a job this client gave up on (timeout, cancel): late packets are expected.
        if (submission) this.owner.work(this, submission, packet, nul < 0 ? NO_DATA : body.subarray(nul + 1));
        return;
      }
      case PacketType.ECHO_RES:
      case PacketType.STATUS_RES:
      case PacketType.STATUS_RES_UNIQUE:
      case PacketType.OPTION_RES: {
        const head = this.awaiting[0];
        if (!(head instanceof PendingReply) || head.expect !== packet.type)
          return this.peerError(`unexpected ${packet.name}`);
        this.awaiting.shift();
        return head.resolve(packet);
      }
      case PacketType.ERROR: {
        const { code, text } = packet.args("ERROR");
        const head = this.awaiting.shift();
        if (head === undefined) return this.peerError(`ERROR ${code} ${text} with no request awaiting a reply`);
        if (head instanceof PendingReply) return head.reject(new ServerError(code, text, head.what));
        if (head instanceof GivenUpAttempt) return;
        return this.owner.refused(this, head, new ServerError(code, text, `job ${head.func}`));
      }
      case PacketType.NOOP:
        return;
      default:
        return this.peerError(`unexpected packet ${packet.name} for a client`);
    }
  }

  /** The server sent something a client cannot make sense of: drop the connection (its jobs fail over). */
  private peerError(message: string): void {
    this.connection.drop(protocolError(message, this.name));
  }
}

function ignore(): void {}

function isSubmission<J>(entry: Awaiting<J>): entry is J {
  return !(entry instanceof PendingReply) && !(entry instanceof GivenUpAttempt);
}
