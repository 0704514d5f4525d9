/** One job a worker was assigned: its input, and the packets it may send back. */
import { encodeRaw } from "./packet.js";
import { PacketType } from "./packet-types.js";
import { toBuffer } from "./client-options.js";

type Payload = Buffer | Uint8Array | string;

export class WorkerJob {
  private done = false;
  private controller: AbortController | undefined;

  constructor(
    readonly handle: string,
    readonly func: string,
    readonly unique: string,
    readonly data: Buffer,
    /** "host:port" of the server that assigned it. */
    readonly server: string,
    private readonly send: (bytes: Buffer) => boolean,
    private readonly onDone: (job: WorkerJob) => void,
  ) {}

  /** Aborted when the job's server connection is lost (its result can no longer be delivered) or the worker closes. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  get finished(): boolean {
    return this.done;
  }

  sendData(data: Payload): void {
    if (!this.done) this.send(encodeRaw("REQ", PacketType.WORK_DATA, [this.handle, toBuffer(data)]));
  }

  sendWarning(data: Payload): void {
    if (!this.done) this.send(encodeRaw("REQ", PacketType.WORK_WARNING, [this.handle, toBuffer(data)]));
  }

  sendStatus(numerator: number, denominator: number): void {
    if (!this.done) this.send(encodeRaw("REQ", PacketType.WORK_STATUS, [this.handle, numerator, denominator]));
  }

  /** WORK_COMPLETE with the result. The first terminal call wins. */
  complete(data: Payload = Buffer.alloc(0)): void {
    this.end(encodeRaw("REQ", PacketType.WORK_COMPLETE, [this.handle, toBuffer(data)]));
  }

  /** WORK_FAIL. */
  fail(): void {
    this.end(encodeRaw("REQ", PacketType.WORK_FAIL, [this.handle]));
  }

  /** WORK_EXCEPTION: clients that asked for exceptions get the data; the others get WORK_FAIL. */
  exception(data: Payload): void {
    this.end(encodeRaw("REQ", PacketType.WORK_EXCEPTION, [this.handle, toBuffer(data)]));
  }

  private end(bytes: Buffer): void {
    if (this.done) return;
    this.done = true;
    this.send(bytes);
    this.onDone(this);
  }

  /** @internal The connection is gone: nothing can be delivered any more. */
  abandon(reason: Error): void {
    if (this.done) return;
    this.done = true;
    this.controller?.abort(reason);
    this.onDone(this);
  }
}
