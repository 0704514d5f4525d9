/**
 * A Gearman client over one or many job servers. Each job is a run of the
 * retry engine (retry-run.ts) under the rules of its submit options
 * (submit-rules.ts); each of its attempts is one Submission
 * (submission.ts), placed here on a ServerLink (server-link.ts: one
 * server's connection, its FIFO of requests awaiting replies, its jobs by
 * handle) that ServerChoice (server-choice.ts) picks. This file places
 * attempts and routes what servers answer to them; it never retries.
 *
 *   submitJob / submitBackground ──► RetryRun(SubmitRules) ──► attempt() ──► Submission ──send──►
 *   start ──ServerChoice.pick──► ServerLink.submit ──SUBMIT_JOB*──► server
 *     └─ no server connected ──► waiting ──(a server connects)──► pick again   (NO_SERVER after noServerTimeoutMs)
 *   JOB_CREATED ──► the attempt gets its handle ──► background: completed │ foreground: the link routes WORK_* to it
 *   WORK_DATA / WARNING / STATUS ──► observer.data / warning / status
 *   WORK_COMPLETE ──► observer.completed │ WORK_FAIL / WORK_EXCEPTION ──► observer.failed(JobError)
 *   ERROR for the submission ──► observer.failed(ServerError)
 *   connection lost ──► each attempt it held: observer.failed(CONNECTION)
 *   giveUp ──► off its link │ withdraw ──► ServerLink ──► AdminClient "cancel job HANDLE" (now, or on a late JOB_CREATED)
 *
 * Timeouts, and who owns them: connectTimeoutMs, the connection (and the admin
 * `cancel job`); noServerTimeoutMs, this file (one attempt waiting for any
 * server); timeoutMs, the retry engine (per attempt). Retries and failovers:
 * the retry engine, and nothing here.
 */
import { EventEmitter } from "node:events";
import { formatAddress } from "./address.js";
import type { ClientJob } from "./client-job.js";
import {
  checkBackgroundOptions,
  checkSubmitOptions,
  fillClientOptions,
  type BackgroundOptions,
  type ClientOptions,
  type FilledClientOptions,
  type SubmitOptions,
} from "./client-options.js";
import {
  closedError,
  noServer,
  reasonAt,
  serverLost,
  JobError,
  type GearmanError,
  type ServerError,
  type ServerTrouble,
} from "./errors.js";
import { checkFunctionName } from "./function-name.js";
import { encodePacket, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { handleBytes, handleText } from "./job-handle.js";
import { keepPayload, type Payload } from "./payload.js";
import { toBuffer } from "../bytes.js";
import type { AttemptMaker, AttemptObserver, AttemptOptions } from "./retry-rules.js";
import { ServerChoice } from "./server-choice.js";
import { ServerLink, type LinkOwner } from "./server-link.js";
import { Submission, type SubmissionOwner } from "./submission.js";
import { SubmitRules } from "./submit-rules.js";

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

const NO_OPTIONS: SubmitOptions & BackgroundOptions = Object.freeze({});
const BACKGROUND_LIMITS = { retries: 0, timeoutMs: undefined };

/** Events: "connect"(server), "disconnect"(server, error). */
export class GearmanClient extends EventEmitter implements AttemptMaker {
  private readonly options: FilledClientOptions;
  private readonly links: readonly ServerLink<Submission>[];
  private readonly choice: ServerChoice<ServerLink<Submission>>;
  /** Submissions waiting for any server to be connected. */
  private readonly waiting = new Set<Submission>();
  private closed = false;

  private readonly linkEvents: LinkOwner<Submission> = {
    connected: (link) => this.onConnect(link),
    disconnected: (link, orphans, error) => this.onDisconnect(link, orphans, error),
    created: (link, submission, handle) => this.onCreated(link, submission, handle),
    createdTooLate: (link, submission, handle) => {
      if (submission.withdrawOnCreated) this.withdrawFrom(link, handle);
    },
    refused: (_link, submission, error: ServerError) => this.finish(submission, error),
    work: (_link, submission, packet, rest) => this.onWork(submission, packet, rest),
  };

  private readonly submissionEvents: SubmissionOwner = {
    start: (submission) => this.start(submission),
    giveUp: (submission) => this.giveUp(submission),
    withdraw: (submission) => this.withdraw(submission),
    waitedTooLong: (submission) => this.finish(submission, this.noServerError(`job ${submission.func}`)),
  };

  /** Calls waiting in waitForServer(), each told of every connect and failure. */
  private readonly serverWaiters = new Set<() => void>();

  constructor(options: ClientOptions) {
    super();
    this.options = fillClientOptions(options);
    this.links = this.options.servers.map((address) => new ServerLink(address, this.options, this.linkEvents));
    this.choice = new ServerChoice(this.links);
    for (const link of this.links) link.connection.open();
  }

  /** Whether any server is connected right now. */
  get anyConnected(): boolean {
    return this.links.some((l) => l.connected);
  }

  /** Servers connected right now. */
  get connectedServers(): string[] {
    return this.links.filter((l) => l.connected).map((l) => l.name);
  }

  /** Every server that is not connected, with why (its last failure; undefined: its first attempt is under way). */
  unreachableServers(): ServerTrouble[] {
    return this.links
      .filter((l) => !l.connected)
      .map((l) => ({ name: l.name, reason: l.connection.lastError && reasonAt(l.name, l.connection.lastError) }));
  }

  /** NO_SERVER for `what`, naming every server and why it is not connected. */
  noServerError(what: string): GearmanError {
    return noServer(what, this.unreachableServers());
  }

  /**
   * Resolves once a job server is connected (at once when one is). Every
   * server that is not is tried at once (not at the end of its reconnect
   * backoff); once each has failed an attempt made since this call, rejects
   * with NO_SERVER naming every server and why. So a client whose servers
   * refuse connections learns it in milliseconds, and one whose servers do
   * not answer within connectTimeoutMs (plus the backoff in progress).
   */
  waitForServer(what: string, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(closedError("GearmanClient"));
    if (this.links.some((l) => l.connected)) return Promise.resolve();
    const before = this.links.map((l) => l.connection.failures);
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        let settled: Error | null | undefined;
        if (this.closed) settled = closedError("GearmanClient");
        else if (signal?.aborted) settled = signal.reason as Error;
        else if (this.links.some((l) => l.connected)) settled = null;
        else if (this.links.every((l, i) => l.connection.failures > before[i])) settled = this.noServerError(what);
        if (settled === undefined) return;
        this.serverWaiters.delete(check);
        signal?.removeEventListener("abort", check);
        if (settled === null) resolve();
        else reject(settled);
      };
      this.serverWaiters.add(check);
      signal?.addEventListener("abort", check, { once: true });
      for (const link of this.links) link.connection.reconnectNow();
      check();
    });
  }

  private tellServerWaiters(): void {
    for (const check of [...this.serverWaiters]) check();
  }

  /** Submits a foreground job; its `result` resolves with the WORK_COMPLETE data. Its options are rules for the retry engine. */
  submitJob(func: string, data: Payload, options: SubmitOptions = NO_OPTIONS): ClientJob {
    checkFunctionName("submitJob function", func);
    checkSubmitOptions(options);
    const rules = new SubmitRules(
      this,
      func,
      toBuffer(data, "submitJob data"),
      { unique: options.unique, priority: options.priority },
      {
        retries: options.retries ?? 0,
        failovers: options.failovers ?? this.options.maxFailovers,
        timeoutMs: options.timeoutMs,
      },
      options.signal,
    );
    rules.run.start();
    return rules.job;
  }

  /** Submits a background job; resolves with its handle once the server accepted it (it fails over until then). */
  submitBackground(func: string, data: Payload, options: BackgroundOptions = NO_OPTIONS): Promise<string> {
    checkFunctionName("submitBackground function", func);
    const epoch = checkBackgroundOptions(options);
    const rules = new SubmitRules(
      this,
      func,
      toBuffer(data, "submitBackground data"),
      { unique: options.unique, priority: options.priority, background: true, epoch },
      { ...BACKGROUND_LIMITS, failovers: this.options.maxFailovers },
      options.signal,
    );
    rules.run.start();
    return rules.job.result.then((handle) => handleText(handle));
  }

  /**
   * One attempt at a job, unsent: a single SUBMIT_JOB* that never retries,
   * fails over or times out by itself, and reports each step to `observer`
   * (the retry engine). `send()` places it.
   */
  attempt(func: string, data: Buffer, options: AttemptOptions, observer: AttemptObserver, ordinal = 1): Submission {
    return new Submission(this.submissionEvents, observer, func, data, options, ordinal);
  }

  private start(submission: Submission): void {
    if (this.closed) return this.finish(submission, closedError("GearmanClient"));
    this.dispatch(submission);
  }

  /**
   * Sends the submission to a connected server, or lets it wait for one. A
   * server just lost is not connected when its attempts fail, so the attempt
   * after a lost server goes elsewhere when another server is up.
   */
  private dispatch(submission: Submission): void {
    const link = this.choice.pick(submission.unique);
    if (!link) {
      submission.startWaiting(this.options.noServerTimeoutMs);
      this.waiting.add(submission);
      return;
    }
    submission.link = link;
    link.submit(submission);
  }

  private onConnect(link: ServerLink<Submission>): void {
    this.emit("connect", link.name);
    this.tellServerWaiters();
    if (this.waiting.size === 0) return;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const submission of waiting) {
      submission.stopWaiting();
      this.dispatch(submission);
    }
  }

  private onDisconnect(link: ServerLink<Submission>, orphans: readonly Submission[], error: GearmanError): void {
    this.emit("disconnect", link.name, error);
    this.tellServerWaiters();
    for (const submission of orphans) this.finish(submission, serverLost(submission.description, error));
  }

  private onCreated(link: ServerLink<Submission>, submission: Submission, handle: string): void {
    submission.handle = handle;
    if (submission.background) return this.finish(submission, undefined, handleBytes(handle));
    link.track(handle, submission);
    submission.observer.created(submission, handle);
  }

  private onWork(submission: Submission, packet: Packet, rest: Buffer): void {
    switch (packet.type) {
      case PacketType.WORK_COMPLETE:
        return this.finish(submission, undefined, keepPayload(rest, packet.exclusive));
      case PacketType.WORK_DATA:
        return submission.observer.data(submission, Buffer.from(rest));
      case PacketType.WORK_WARNING:
        return submission.observer.warning(submission, Buffer.from(rest));
      case PacketType.WORK_STATUS: {
        const { numerator, denominator } = packet.args("WORK_STATUS");
        return submission.observer.status(submission, Number(numerator), Number(denominator));
      }
      case PacketType.WORK_EXCEPTION:
        return this.finish(
          submission,
          new JobError(submission.func, submission.handle, Buffer.from(rest), submission.ordinal),
        );
      case PacketType.WORK_FAIL:
        return this.finish(submission, new JobError(submission.func, submission.handle, undefined, submission.ordinal));
    }
  }

  /** Takes a submission given up by its job off its link or out of the waiting set; it reports nothing more. */
  private giveUp(submission: Submission): void {
    if (submission.settled) return;
    submission.settled = true;
    submission.givenUp = true;
    this.leave(submission);
  }

  /**
   * Cancels a given-up submission on its server (admin `cancel job`), once:
   * now if its JOB_CREATED came, else when it comes. Not when it ended by
   * itself or never reached a server, nor when its connection is gone (the
   * server drops a foreground job whose clients all left; a background job's
   * connection never matters).
   */
  private withdraw(submission: Submission): void {
    const link = submission.link;
    if (!submission.givenUp || submission.withdrawn || link === undefined) return;
    submission.withdrawn = true;
    if (submission.handle === undefined) submission.withdrawOnCreated = true;
    else this.withdrawFrom(link, submission.handle);
  }

  private withdrawFrom(link: ServerLink<Submission>, handle: string): void {
    if (this.closed || !link.connected) return;
    link.withdraw(handle);
  }

  /** Takes the submission off its link, or out of the waiting set. */
  private leave(submission: Submission): void {
    if (submission.waiting) {
      this.waiting.delete(submission);
      submission.stopWaiting();
    } else {
      submission.link?.release(submission);
    }
  }

  /** The submission's end, reported once to its observer. */
  private finish(submission: Submission, error: GearmanError | undefined, data?: Buffer): void {
    if (submission.settled) return;
    submission.settled = true;
    this.leave(submission);
    if (error) submission.observer.failed(submission, error);
    else submission.observer.completed(submission, data!);
  }

  private request(
    link: ServerLink<Submission> | undefined,
    bytes: Buffer,
    expect: number,
    what: string,
  ): Promise<Packet> {
    if (this.closed) return Promise.reject(closedError("GearmanClient"));
    if (!link || !link.connected) return Promise.reject(this.noServerError(what));
    return link.request(bytes, expect, what);
  }

  private linkFor(server?: string): ServerLink<Submission> | undefined {
    if (server === undefined) return this.links.find((l) => l.connected);
    return this.links.find((l) => l.name === server || formatAddress(l.connection.address) === server);
  }

  /** GET_STATUS: what `server` (default: the first connected one) knows of job `handle`. */
  async getStatus(handle: string, server?: string): Promise<JobStatus> {
    const packet = await this.request(
      this.linkFor(server),
      encodePacket("REQ", "GET_STATUS", { handle }),
      PacketType.STATUS_RES,
      `GET_STATUS ${handle}`,
    );
    const a = packet.args("STATUS_RES");
    return {
      handle: a.handle,
      known: a.known === "1",
      running: a.running === "1",
      numerator: Number(a.numerator),
      denominator: Number(a.denominator),
    };
  }

  /** GET_STATUS_UNIQUE: asks the server `unique` hashes to (as submissions do) unless `server` is given. */
  async getStatusUnique(unique: string, server?: string): Promise<UniqueStatus> {
    const link = server === undefined ? this.choice.home(unique) : this.linkFor(server);
    const packet = await this.request(
      link?.connected ? link : this.linkFor(),
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

  /** ECHO_REQ: resolves with the bytes the server echoed. */
  async echo(data: Payload = "ping", server?: string): Promise<Buffer> {
    const packet = await this.request(
      this.linkFor(server),
      encodePacket("REQ", "ECHO_REQ", { data: toBuffer(data, "echo data") }),
      PacketType.ECHO_RES,
      "ECHO_REQ",
    );
    return Buffer.from(packet.body);
  }

  /** Ends every unfinished attempt with CLOSED (so its job rejects), lets cancels under way finish, and releases every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = closedError("GearmanClient");
    for (const link of this.links) for (const submission of link.submissions()) this.finish(submission, error);
    for (const submission of [...this.waiting]) this.finish(submission, error);
    this.tellServerWaiters();
    await Promise.all(this.links.map((link) => link.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
