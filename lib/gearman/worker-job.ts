/** One job a worker was assigned: its input, and the packets its handler may send back. */
import { encodeRaw, encodeRawParts } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { toBuffer } from "../bytes.js";
import type { Payload } from "./payload.js";
import { ArgumentError } from "../argument-error.js";
import { handleBytes } from "./job-handle.js";

/** @internal How a job reaches its server. */
export interface JobLink {
  readonly server: string;
  /** Queues bytes on the job's connection; false when it is gone. */
  send(bytes: Buffer): boolean;
}

export class WorkerJob {
  private done = false;
  private controller: AbortController | undefined;
  /** The handle's bytes, sent back in every WORK_* packet exactly as they came. */
  readonly #handle: Buffer;

  /** @internal Created by GearmanWorker on JOB_ASSIGN_UNIQ. */
  constructor(
    /** The server's job handle, e.g. "H:host:42". */
    readonly handle: string,
    readonly func: string,
    /** The client's unique id ("" when it gave none and the server assigned none). */
    readonly unique: string,
    readonly data: Buffer,
    private readonly link: JobLink,
  ) {
    this.#handle = handleBytes(handle);
  }

  /** "host:port" of the server that assigned the job. */
  get server(): string {
    return this.link.server;
  }

  /**
   * Aborted when the job's result can no longer be delivered: its server
   * connection was lost (the server requeues the job), the worker closed, or
   * its CAN_DO_TIMEOUT elapsed. `signal.reason` says which.
   */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** True once a terminal packet was sent or the job was abandoned. */
  get finished(): boolean {
    return this.done;
  }

  /** WORK_DATA: a partial result for the client. */
  sendData(data: Payload): void {
    if (!this.done)
      this.link.send(encodeRaw("REQ", PacketType.WORK_DATA, [this.#handle, toBuffer(data, "sendData data")]));
  }

  /** WORK_WARNING: a warning for the client. */
  sendWarning(data: Payload): void {
    if (!this.done)
      this.link.send(encodeRaw("REQ", PacketType.WORK_WARNING, [this.#handle, toBuffer(data, "sendWarning data")]));
  }

  /** WORK_STATUS: progress as numerator / denominator (whole numbers ≥ 0). */
  sendStatus(numerator: number, denominator: number): void {
    for (const [name, n] of [
      ["numerator", numerator],
      ["denominator", denominator],
    ] as const) {
      if (!Number.isSafeInteger(n) || n < 0)
        throw new ArgumentError(
          `job ${this.handle} (${this.func}) status ${name}`,
          `expected a whole number ≥ 0, got ${n}`,
        );
    }
    if (!this.done) this.link.send(encodeRaw("REQ", PacketType.WORK_STATUS, [this.#handle, numerator, denominator]));
  }

  /** WORK_COMPLETE with the result. The first terminal call (complete, fail, exception) wins; later ones are ignored. */
  complete(data: Payload = Buffer.alloc(0)): void {
    if (!this.done)
      this.end(encodeRawParts("REQ", PacketType.WORK_COMPLETE, [this.#handle, toBuffer(data, "complete data")]));
  }

  /** WORK_FAIL. Final: gearmand never retries it. */
  fail(): void {
    if (!this.done) this.end([encodeRaw("REQ", PacketType.WORK_FAIL, [this.#handle])]);
  }

  /** WORK_EXCEPTION: clients that asked for exceptions get `data`; the others get WORK_FAIL. Final. */
  exception(data: Payload): void {
    if (!this.done)
      this.end(encodeRawParts("REQ", PacketType.WORK_EXCEPTION, [this.#handle, toBuffer(data, "exception data")]));
  }

  /** Sends the final packet; its parts go out in this tick's one write, so nothing comes between them. */
  private end(parts: readonly Buffer[]): void {
    this.done = true;
    for (const bytes of parts) this.link.send(bytes);
  }

  /** @internal The result can no longer be delivered: abort the signal, send nothing more. */
  abandon(reason: Error): void {
    if (this.done) return;
    this.done = true;
    (this.controller ??= new AbortController()).abort(reason);
  }

  /**
   * @internal CAN_DO_TIMEOUT elapsed: the server takes the job back. A result
   * sent later is still sent; gearmand answers it with ERROR JOB_NOT_FOUND.
   */
  expire(reason: Error): void {
    if (!this.done) (this.controller ??= new AbortController()).abort(reason);
  }
}
