/**
 * A worker node's end of its threads' console output (thread-output.ts):
 * each line its threads forward is published on the log channel, and the
 * rate limit they share (output-bucket.ts) is refilled here; the lines it
 * dropped are reported on the log channel too, at most once a second.
 *
 *   threads ──BroadcastChannel (one per node)──► publish(line) ──► log channel (a record with its map, chunk, item, stream)
 *   every REFILL_MS: refill the bucket; lines dropped ──► one warning record a second at most
 */
import { BroadcastChannel } from "node:worker_threads";
import { REFILL_MS, newOutputBucket, refill } from "./output-bucket.js";
import { OUTPUT_BURST, OUTPUT_LINES_PER_SECOND } from "../wire/protocol.js";
import type { OutputLine, OutputLink } from "./thread-output.js";

/** At most one drop report a second. */
const REPORT_MS = 1000;

export class OutputForwarder {
  /** What the node's threads need to forward output to it. */
  readonly link: OutputLink;
  private readonly channel: BroadcastChannel;
  private readonly bucket: Int32Array;
  private readonly timer: NodeJS.Timeout;
  private dropped = 0;
  private lastReport = Date.now();

  constructor(
    nodeId: string,
    /** Publishes one line on the log channel. */
    publish: (line: OutputLine) => void,
    /** Publishes a warning (the drop report). */
    warn: (message: string) => void,
  ) {
    const buffer = newOutputBucket();
    this.link = { channel: `glimpse-cluster:output:${nodeId}`, bucket: buffer };
    this.bucket = new Int32Array(buffer);
    this.channel = new BroadcastChannel(this.link.channel);
    this.channel.onmessage = (event) => publish((event as { data: OutputLine }).data);
    this.channel.unref();
    this.timer = setInterval(() => {
      this.dropped += refill(this.bucket);
      const now = Date.now();
      if (this.dropped === 0 || now - this.lastReport < REPORT_MS) return;
      warn(
        `worker output: ${this.dropped} line${this.dropped === 1 ? "" : "s"} dropped in the last ${((now - this.lastReport) / 1000).toFixed(1)} s ` +
          `(a node forwards at most ${OUTPUT_LINES_PER_SECOND} lines a second, bursts of ${OUTPUT_BURST})`,
      );
      this.dropped = 0;
      this.lastReport = now;
    }, REFILL_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.channel.close();
  }
}
