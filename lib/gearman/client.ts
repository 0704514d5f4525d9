/**
 * A Gearman client over one or many job servers. Every submitted job is one
 * Submission record (submission.ts); a ServerLink (server-link.ts) keeps one
 * server's connection, its FIFO of requests awaiting replies and its jobs by
 * handle; ServerChoice (server-choice.ts) picks the server. This file decides
 * what happens to a job at each step.
 *
 *   submitJob / submitBackground ──► Submission ──ServerChoice.pick──► ServerLink.submit ──SUBMIT_JOB*──► server
 *     └─ no server connected ──► waiting ──(a server connects)──► pick again   (NO_SERVER after noServerTimeoutMs)
 *   JOB_CREATED ──► the record gets its handle ──► background: resolves │ foreground: the link routes WORK_* to it
 *   WORK_DATA / WARNING / STATUS / EXCEPTION ──► job events
 *   WORK_COMPLETE ──► result
 *   WORK_FAIL / WORK_EXCEPTION / attempt timeout ──► retry (same record, `retries` times) or reject
 *   cancel() / signal abort / attempt timeout / JOB_CREATED after giving up ──► withdraw ──► ServerLink ──► AdminClient "cancel job HANDLE"
 *   connection lost ──► each job it held: submitted elsewhere (`failovers` times) or rejected with CONNECTION
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
  abortedError,
  closedError,
  failoversExhausted,
  noServer,
  timeoutError,
  JobError,
  type GearmanError,
  type ServerError,
} from "./errors.js";
import { checkFunctionName } from "./function-name.js";
import { encodePacket, type Packet } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { keepPayload, type Payload } from "./payload.js";
import { toBuffer } from "../bytes.js";
import { ServerChoice } from "./server-choice.js";
import { ServerLink, type LinkOwner } from "./server-link.js";
import { Submission, type SubmissionOwner } from "./submission.js";

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

/** Events: "connect"(server), "disconnect"(server, error). */
export class GearmanClient extends EventEmitter {
  private readonly options: FilledClientOptions;
  private readonly links: readonly ServerLink[];
  private readonly choice: ServerChoice;
  /** Submissions waiting for any server to be connected. */
  private readonly waiting = new Set<Submission>();
  private closed = false;

  private readonly linkEvents: LinkOwner = {
    connected: (link) => this.onConnect(link),
    disconnected: (link, orphans, error) => this.onDisconnect(link, orphans, error),
    created: (link, submission, handle) => this.onCreated(link, submission, handle),
    createdTooLate: (link, submission, handle) => this.withdraw(link, handle, submission),
    refused: (_link, submission, error: ServerError) => this.finish(submission, error),
    work: (_link, submission, packet, rest) => this.onWork(submission, packet, rest),
  };

  private readonly submissionEvents: SubmissionOwner = {
    cancel: (submission, reason) => this.cancel(submission, reason),
    attemptTimedOut: (submission) =>
      this.failAttempt(submission, timeoutError(submission.description, submission.timeoutMs!), true),
    waitedTooLong: (submission) =>
      this.finish(
        submission,
        noServer(
          `job ${submission.func}`,
          this.links.map((l) => l.name),
        ),
      ),
  };

  constructor(options: ClientOptions) {
    super();
    this.options = fillClientOptions(options);
    this.links = this.options.servers.map((address) => new ServerLink(address, this.options, this.linkEvents));
    this.choice = new ServerChoice(this.links);
    for (const link of this.links) link.connection.open();
  }

  /** Servers connected right now. */
  get connectedServers(): string[] {
    return this.links.filter((l) => l.connected).map((l) => l.name);
  }

  /** Submits a foreground job; its `result` resolves with the WORK_COMPLETE data. */
  submitJob(func: string, data: Payload, options: SubmitOptions = NO_OPTIONS): ClientJob {
    checkFunctionName("submitJob function", func);
    checkSubmitOptions(options);
    const submission = new Submission(
      this.submissionEvents,
      func,
      toBuffer(data, "submitJob data"),
      options,
      false,
      undefined,
      this.options.maxFailovers,
    );
    this.start(submission);
    return submission.job;
  }

  /** Submits a background job; resolves with its handle once the server accepted it. */
  submitBackground(func: string, data: Payload, options: BackgroundOptions = NO_OPTIONS): Promise<string> {
    checkFunctionName("submitBackground function", func);
    const epoch = checkBackgroundOptions(options);
    const submission = new Submission(
      this.submissionEvents,
      func,
      toBuffer(data, "submitBackground data"),
      options,
      true,
      epoch,
      this.options.maxFailovers,
    );
    this.start(submission);
    return submission.job.result.then((handle) => handle.toString());
  }

  private start(submission: Submission): void {
    if (this.closed) return submission.settle(closedError("GearmanClient"));
    if (submission.signal?.aborted) return this.cancel(submission, submission.signal.reason);
    submission.startAttemptTimer();
    this.dispatch(submission);
  }

  /** Submits the job's next attempt to a connected server (not `avoid` if another is connected), or lets it wait for one. */
  private dispatch(submission: Submission, avoid?: ServerLink): void {
    const link = this.choice.pick(submission.unique, avoid);
    if (!link) {
      submission.startWaiting(this.options.noServerTimeoutMs);
      this.waiting.add(submission);
      return;
    }
    submission.attempts++;
    submission.handle = undefined;
    submission.link = link;
    link.submit(submission);
  }

  private onConnect(link: ServerLink): void {
    this.emit("connect", link.name);
    if (this.waiting.size === 0) return;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const submission of waiting) {
      submission.stopWaiting();
      this.dispatch(submission);
    }
  }

  private onDisconnect(link: ServerLink, orphans: readonly Submission[], error: GearmanError): void {
    this.emit("disconnect", link.name, error);
    for (const submission of orphans) {
      if (submission.settled) continue;
      if (++submission.failovers > submission.maxFailovers) {
        this.finish(submission, failoversExhausted(submission.description, submission.failovers, error));
        continue;
      }
      this.dispatch(submission, link);
      if (!submission.waiting && submission.link !== link)
        submission.job.emit("failover", link.name, submission.link!.name);
    }
  }

  private onCreated(link: ServerLink, submission: Submission, handle: string): void {
    submission.handle = handle;
    if (submission.background) return this.finish(submission, undefined, Buffer.from(handle));
    link.track(handle, submission);
    submission.job.emit("created", handle);
  }

  private onWork(submission: Submission, packet: Packet, rest: Buffer): void {
    const job = submission.job;
    switch (packet.type) {
      case PacketType.WORK_COMPLETE:
        return this.finish(submission, undefined, keepPayload(rest, packet.exclusive));
      case PacketType.WORK_DATA:
        return void job.emit("data", Buffer.from(rest));
      case PacketType.WORK_WARNING:
        return void job.emit("warning", Buffer.from(rest));
      case PacketType.WORK_STATUS: {
        const { numerator, denominator } = packet.args("WORK_STATUS");
        return void job.emit("status", Number(numerator), Number(denominator));
      }
      case PacketType.WORK_EXCEPTION: {
        const exception = Buffer.from(rest);
        job.emit("exception", exception);
        return this.failAttempt(
          submission,
          new JobError(submission.func, submission.handle, exception, submission.attempts),
          false,
        );
      }
      case PacketType.WORK_FAIL:
        return this.failAttempt(
          submission,
          new JobError(submission.func, submission.handle, undefined, submission.attempts),
          false,
        );
    }
  }

  /** An attempt failed or timed out: retry if the job has retries left, else reject it. A timed-out attempt is withdrawn from its server. */
  private failAttempt(submission: Submission, error: GearmanError, timedOut: boolean): void {
    if (submission.settled) return;
    const link = submission.waiting ? undefined : submission.link;
    const handle = submission.handle;
    this.leave(submission);
    if (!submission.background && submission.retried < submission.retries) {
      submission.retried++;
      submission.job.emit("retry", submission.attempts + 1, error);
      submission.startAttemptTimer();
      this.dispatch(submission);
    } else {
      submission.settle(error);
    }
    if (timedOut && link && handle !== undefined) this.withdraw(link, handle, submission);
  }

  /** The one cancel route (ClientJob.cancel, the job's AbortSignal): rejects with ABORTED and withdraws the job from its server. */
  private cancel(submission: Submission, reason: unknown): void {
    if (submission.settled) return;
    const link = submission.waiting ? undefined : submission.link;
    const handle = submission.handle;
    this.finish(submission, abortedError(submission.description, reason));
    if (link && handle !== undefined) this.withdraw(link, handle, submission);
  }

  /**
   * Cancels job `handle` on `link` (admin `cancel job`), which an attempt of
   * `submission` created and the client gave up. Not when the job's live
   * attempt shares it (a retry under the same unique on the same server
   * joined that very job), and not when the connection that created it is
   * gone (the server drops a foreground job whose clients all left; a
   * background job's connection never matters).
   */
  private withdraw(link: ServerLink, handle: string, submission: Submission): void {
    if (this.closed || !link.connected) return;
    if (!submission.settled && submission.unique !== "" && !submission.waiting && submission.link === link) return;
    link.withdraw(handle);
  }

  /** Takes the job's current attempt off its link, or out of the waiting set. */
  private leave(submission: Submission): void {
    if (submission.waiting) {
      this.waiting.delete(submission);
      submission.stopWaiting();
    } else {
      submission.link?.release(submission);
    }
  }

  private finish(submission: Submission, error: Error | undefined, data?: Buffer): void {
    if (submission.settled) return;
    this.leave(submission);
    submission.settle(error, data);
  }

  private request(link: ServerLink | undefined, bytes: Buffer, expect: number, what: string): Promise<Packet> {
    if (this.closed) return Promise.reject(closedError("GearmanClient"));
    if (!link || !link.connected)
      return Promise.reject(
        noServer(
          what,
          this.links.map((l) => l.name),
        ),
      );
    return link.request(bytes, expect, what);
  }

  private linkFor(server?: string): ServerLink | undefined {
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

  /** Rejects every unfinished job with CLOSED, lets cancels under way finish, and releases every socket and timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const error = closedError("GearmanClient");
    for (const link of this.links) for (const submission of link.submissions()) this.finish(submission, error);
    for (const submission of [...this.waiting]) this.finish(submission, error);
    await Promise.all(this.links.map((link) => link.close()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
