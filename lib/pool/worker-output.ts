/**
 * Worker output at the client that ran the map: what the map's functions
 * wrote with console on the workers (lib/node/thread-output.ts), as Ray
 * shows a task's prints in the driver's terminal.
 *
 *   log channel: a record of worker output for one of this pool's maps ──► that map's MapOutput ──► its sink:
 *        the caller's stdout / stderr, each line after "(host:pid item N) " (a submitted call's: "(host:pid fn(5)) "),
 *        or the map's `output` function
 *   each chunk's response: its tally ──► lines still to wait for; lines its node dropped, said once per chunk
 *   a chunk of submitted calls ──chunkArrived()──► waits for that chunk's lines before its calls settle
 *   the map's end ──settle()──► waits for lines still on their way, while they come (OUTPUT_WAIT_MS of silence ends it)
 *
 * Lines travel on the log channel and results through the job server, so a
 * map's last lines may arrive after its last result: settle() lets them
 * arrive before the map resolves or rejects (chunkArrived() before each submitted
 * call does, as each settles with its chunk, long before its batch ends). Lines lost on the way (PUB/SUB
 * drops what a full queue cannot hold) cost that wait, once.
 */
import type { LogEnvelope, RecordOutput } from "../channels/messages.js";
import type { LogChannel } from "../control/log-channel.js";
import type { OutputTally, ResponseMeta } from "../wire/chunk-response.js";
import { Condition } from "../condition.js";
import type { Chunk } from "./chunks.js";
import { OUTPUT_BURST, OUTPUT_LINES_PER_SECOND } from "../wire/protocol.js";

/** How long the end of a map waits for more of the output lines still on their way, in ms: a silence this long ends it. */
export const OUTPUT_WAIT_MS = 1000;

/** What every piece of worker output carries, whichever call wrote it. */
interface OutputLine {
  /** stdout: console.log, info, debug, dir, table; stderr: console.error, warn, trace (and drop notices). */
  readonly stream: "stdout" | "stderr";
  /** What the call wrote, without its final newline (several lines for a multi-line message). */
  readonly text: string;
  readonly host: string;
  readonly pid: number;
  /** On a drop notice only: how many lines of the chunk the node's rate limit dropped (`text` says so). */
  readonly dropped?: number;
}

/**
 * One console call of a map's function on a worker, or a notice of lines its node dropped. Its
 * writer is named as a RemoteError names it: an item of map, imap, starmap... by `index`; a call
 * made with pool.submit or pool.apply (no item of a list) by `call`, with `index` undefined.
 */
export type WorkerOutput = OutputLine &
  (
    | {
        /** The item (its index within the map) whose function call wrote it; a drop notice: its chunk's first item. */
        readonly index: number;
        readonly call?: undefined;
      }
    | {
        readonly index: undefined;
        /**
         * The submitted call that wrote it, as its RemoteError's message names it: `fn(5)`, its
         * arguments shown short (call-text.ts); a drop notice: its chunk's first call.
         */
        readonly call: string;
      }
  );

/**
 * A map's `output` option: true (default) writes the lines to this process's stdout and stderr, each after
 * "(host:pid item N) " (a submitted call's after "(host:pid fn(5)) "); a function gets each one instead; false
 * leaves the output on the worker nodes.
 */
export type OutputOption = boolean | ((output: WorkerOutput) => void);

/** Writes a line to this process's stdout or stderr, each of its lines after where it came from. */
function inherit(output: WorkerOutput): void {
  const prefix = `(${output.host}:${output.pid} ${output.call ?? `item ${output.index}`}) `;
  const text = output.text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
  (output.stream === "stderr" ? process.stderr : process.stdout).write(`${text}\n`);
}

/** Routes the worker output heard on the log channel to the maps of this pool that run. */
export class OutputRouter {
  private readonly maps = new Map<string, MapOutput>();
  private readonly stopWatching: () => void;

  constructor(log: LogChannel) {
    this.stopWatching = log.watch((envelope) => {
      const message = envelope.message;
      if (message.type !== "record" || message.output === undefined) return;
      this.maps.get(message.output.mapId)?.heard(envelope, message.output, message.message);
    });
  }

  /**
   * The output of a map that starts; undefined when its option turns it off. `callAt` names a
   * submitted call by its index in the batch; absent, lines name their item.
   */
  open(mapId: string, option: OutputOption, callAt?: (index: number) => string): MapOutput | undefined {
    if (option === false) return undefined;
    const output = new MapOutput(option === true ? inherit : option, () => this.maps.delete(mapId), callAt);
    this.maps.set(mapId, output);
    return output;
  }

  close(): void {
    this.stopWatching();
    this.maps.clear();
  }
}

/** One map's worker output: lines to its sink as they come, and how many of each chunk's are still on their way. */
export class MapOutput {
  /** Lines each chunk's response says were forwarded, by chunk. */
  private readonly expected = new Map<number, number>();
  /** Lines heard, by chunk. */
  private readonly received = new Map<number, number>();
  /** Drop notices, said once their chunk's lines all arrived (after them), or at the end. */
  private readonly notices = new Map<number, WorkerOutput>();
  private readonly arrived = new Condition();
  /** Lines heard in all. */
  private heardLines = 0;
  /** A wait for a chunk's lines met a silence: lines were lost, and chunks wait no more (settle() still does). */
  private lossy = false;

  constructor(
    private readonly sink: (output: WorkerOutput) => void,
    private readonly closed: () => void,
    private readonly callAt?: (index: number) => string,
  ) {}

  /** A line written by the item at `index`, or by the submitted call it is. */
  private by(index: number, line: OutputLine): WorkerOutput {
    return this.callAt ? { ...line, index: undefined, call: this.callAt(index) } : { ...line, index };
  }

  /** What a drop notice says lost lines: `item 3`, `items 0..9`, `fn(5)`, `calls fn(1) to fn(9)`. */
  private writers(chunk: Chunk<unknown>): string {
    const first = chunk.start;
    const last = chunk.start + chunk.items.length - 1;
    if (this.callAt) return first === last ? this.callAt(first) : `calls ${this.callAt(first)} to ${this.callAt(last)}`;
    return first === last ? `item ${first}` : `items ${first}..${last}`;
  }

  heard(envelope: LogEnvelope, output: RecordOutput, text: string): void {
    this.heardLines++;
    this.received.set(output.chunk, (this.received.get(output.chunk) ?? 0) + 1);
    this.deliver(this.by(output.index, { stream: output.stream, text, host: envelope.host, pid: envelope.pid }));
    this.noticeIfComplete(output.chunk);
    this.arrived.wake();
  }

  private complete(chunk: number): boolean {
    return (this.received.get(chunk) ?? 0) >= (this.expected.get(chunk) ?? Infinity);
  }

  private noticeIfComplete(chunk: number): void {
    const notice = this.notices.get(chunk);
    if (notice === undefined || !this.complete(chunk)) return;
    this.notices.delete(chunk);
    this.deliver(notice);
  }

  /** A chunk's response came: its tally says how many lines to wait for, and how many were dropped. */
  responded(chunk: Chunk<unknown>, response: ResponseMeta): void {
    const tally: OutputTally | undefined = response.output;
    if (tally === undefined) return;
    this.expected.set(chunk.index, tally.lines);
    if (tally.dropped > 0) {
      this.notices.set(
        chunk.index,
        this.by(chunk.start, {
          stream: "stderr",
          text:
            `${tally.dropped} line${tally.dropped === 1 ? "" : "s"} of output of ${this.writers(chunk)} dropped: ` +
            `a worker node forwards at most ${OUTPUT_LINES_PER_SECOND} lines a second, bursts of ${OUTPUT_BURST}`,
          host: response.host,
          pid: response.pid,
          dropped: tally.dropped,
        }),
      );
    }
    this.noticeIfComplete(chunk.index);
    this.arrived.wake();
  }

  /**
   * Resolves once every line the response of chunk `index` announced arrived (at once for a chunk that
   * wrote none), or when none of this map's arrived for `waitMs`: then lines were lost, and later chunks
   * wait no more, so that a dead log channel costs one wait, not one per chunk.
   */
  async chunkArrived(index: number, waitMs = OUTPUT_WAIT_MS): Promise<void> {
    const arrived = () => this.lossy || !this.expected.has(index) || this.complete(index);
    for (let heard = this.heardLines; !arrived(); heard = this.heardLines) {
      await this.arrived.until(arrived, waitMs);
      if (this.heardLines === heard && !arrived()) this.lossy = true;
    }
  }

  /**
   * Resolves once every line the responses announced arrived, or when none arrived for `waitMs` (the rest
   * were lost); then hears no more. A busy channel delivering thousands of lines is waited for.
   */
  async settle(waitMs = OUTPUT_WAIT_MS): Promise<void> {
    const complete = () => [...this.expected.keys()].every((chunk) => this.complete(chunk));
    try {
      for (let heard = this.heardLines; !complete(); heard = this.heardLines) {
        await this.arrived.until(complete, waitMs);
        if (this.heardLines === heard) break; // silence: what is missing was lost
      }
    } finally {
      this.closed();
      for (const notice of this.notices.values()) this.deliver(notice);
      this.notices.clear();
    }
  }

  /** A sink that throws must not end the map, nor stop the other lines. */
  private deliver(output: WorkerOutput): void {
    try {
      this.sink(output);
    } catch (error) {
      process.emitWarning(`a map's output function threw: ${(error as Error)?.message ?? error}`, {
        code: "GLIMPSE_OUTPUT",
      });
    }
  }
}
