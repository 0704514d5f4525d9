/**
 * A worker node's running chunks' console lines, each sent to the chunk's
 * client as WORK_DATA on the chunk's own job (lib/wire/output-record.ts), so
 * that the job server hands them over before the chunk's result.
 *
 *   open(job) ──► a sink for the thread: its id, and a counter the thread raises per line it posts
 *   a line from the threads (output-forwarder.ts) with that sink's id ──► job.sendData(record)
 *   the thread's result ──settled()──► waits until every line it counted arrived here (BroadcastChannel
 *                                      and the result come by different ports), then the result is sent
 *   close() on every path: lines after it are not sent on the job (the log channel still has them)
 */
import os from "node:os";
import { Condition } from "../condition.js";
import type { WorkerJob } from "../gearman/worker-job.js";
import type { ClusterKey } from "../security/cluster-key.js";
import { encodeOutputRecord } from "../wire/output-record.js";
import type { ChunkOutputSink, OutputLine } from "./thread-output.js";

/** The longest a result waits for lines its thread counted: they are in this process, so only a stalled loop delays them. */
const ARRIVAL_WAIT_MS = 5000;

const HOST = os.hostname();

interface OpenSink {
  readonly job: WorkerJob;
  readonly nonce: Uint8Array | undefined;
  readonly sent: Int32Array;
  received: number;
}

export class ChunkOutputs {
  private nextId = 0;
  private readonly open = new Map<number, OpenSink>();
  private readonly arrived = new Condition();

  constructor(private readonly key: ClusterKey | undefined) {}

  /** A sink for one run of a chunk on `job`; `nonce`: its request's, which a signed record is bound to. */
  sink(job: WorkerJob, nonce: Uint8Array | undefined): ChunkOutputSink {
    const id = ++this.nextId;
    const sent = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    this.open.set(id, { job, nonce, sent: new Int32Array(sent), received: 0 });
    return { id, sent };
  }

  /** A line a thread forwarded: to its chunk's client, if its chunk still runs here. */
  line(line: OutputLine): void {
    const open = line.sink === undefined ? undefined : this.open.get(line.sink);
    if (open === undefined) return;
    const { index, stream, text } = line;
    open.job.sendData(encodeOutputRecord({ index, stream, text, host: HOST, pid: process.pid }, this.key, open.nonce));
    open.received++;
    this.arrived.wake();
  }

  /** Resolves once every line the chunk's thread counted was sent on its job (or after ARRIVAL_WAIT_MS). */
  async settled(sink: ChunkOutputSink): Promise<void> {
    const open = this.open.get(sink.id);
    if (open === undefined) return;
    await this.arrived.until(() => open.received >= Atomics.load(open.sent, 0), ARRIVAL_WAIT_MS);
  }

  close(sink: ChunkOutputSink): void {
    this.open.delete(sink.id);
  }
}
