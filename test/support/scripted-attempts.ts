/**
 * Attempts for the retry engine that the test scripts: each is "sent" to the
 * next of the client's servers and answered JOB_CREATED at once; the test
 * then tells it what befalls it (a take, a status, a result, a failure) and
 * reads back whether the engine gave it up and withdrew it.
 */
import assert from "node:assert/strict";
import { JobError, type GearmanError } from "../../lib/gearman/errors.js";
import type { Attempt, AttemptMaker, AttemptObserver, AttemptOptions } from "../../lib/gearman/retry-rules.js";
import { TAKEN_NUMERATOR } from "../../lib/wire/protocol.js";

export class ScriptedAttempt implements Attempt {
  handle: string | undefined = undefined;
  server: string | undefined = undefined;
  /** Set by the test: nothing of its server reaches the client. */
  serverQuiet = false;
  given = false;
  withdrawn = false;
  /** It reported its end (a result or a failure). */
  ended = false;

  constructor(
    private readonly client: ScriptedClient,
    readonly func: string,
    readonly unique: string,
    readonly data: Buffer,
    private readonly observer: AttemptObserver,
    readonly ordinal: number,
  ) {}

  send(): void {
    if (!this.client.connected) return; // it waits for a server, which never comes
    this.server = this.client.servers[(this.ordinal - 1) % this.client.servers.length];
    this.handle = `H:${this.server.split(":")[0]}:${this.ordinal}`;
    this.observer.created(this, this.handle);
  }
  /** As the client's: only a live attempt is given up, and only a given-up one withdrawn, once. */
  giveUp(): void {
    if (!this.ended) this.given = true;
  }
  withdraw(): void {
    if (!this.given) return;
    assert.equal(this.withdrawn, false, "withdrawn twice");
    this.withdrawn = true;
  }
  joins(other: Attempt): boolean {
    return this.unique !== "" && this.unique === other.unique && this.server === other.server;
  }

  /** WORK_STATUS 0/N: a node took it. */
  take(items = 2): void {
    this.status(TAKEN_NUMERATOR, items);
  }
  status(numerator: number, denominator: number): void {
    this.observer.status(this, numerator, denominator);
  }
  /** WORK_DATA: with no data, a node's heartbeat. */
  workData(bytes = Buffer.alloc(0)): void {
    this.observer.data(this, bytes);
  }
  complete(bytes: Buffer): void {
    this.ended = true;
    this.observer.completed(this, bytes);
  }
  fail(error: GearmanError): void {
    this.ended = true;
    this.observer.failed(this, error);
  }
  /** WORK_EXCEPTION with `text`. */
  exception(text: string): void {
    this.fail(new JobError(this.func, this.handle, Buffer.from(text), this.ordinal));
  }
}

export class ScriptedClient implements AttemptMaker {
  readonly attempts: ScriptedAttempt[] = [];
  /** False: attempts sent from now on find no server and wait. */
  connected = true;

  /** Attempt n goes to servers[(n - 1) % length]. */
  constructor(readonly servers: readonly string[] = ["js1:4730"]) {}

  attempt(func: string, data: Buffer, options: AttemptOptions, observer: AttemptObserver, ordinal = 1): Attempt {
    const attempt = new ScriptedAttempt(this, func, options.unique ?? "", data, observer, ordinal);
    this.attempts.push(attempt);
    return attempt;
  }

  get last(): ScriptedAttempt {
    return this.attempts.at(-1)!;
  }
}
