/**
 * Worker output at the client that ran the map: what the map's functions
 * wrote with console on the workers (lib/node/thread-output.ts), as Ray
 * shows a task's prints in the driver's terminal.
 *
 *   WORK_DATA on a chunk's job: a console line (lib/wire/output-record.ts) ──► the map's MapOutput ──► its sink:
 *        the caller's stdout / stderr, each line after "(host:pid item N) " (a submitted call's: "(host:pid fn(5)) "),
 *        or the map's `output` function
 *   the chunk's response: its tally ──► the lines its node dropped, and those that did not arrive: said once per run
 *
 * Lines travel on the chunk's own job, and the job server hands a job's
 * packets over in the order its node sent them: every line of a chunk is
 * here before its result, so a map resolves (and each submitted call
 * settles) with its lines already given, and none waits for them.
 */
import type { OutputTally, ResponseMeta } from "../wire/chunk-response.js";
import type { OutputRecord } from "../wire/output-record.js";
import type { Chunk } from "./chunks.js";
import type { ChunkOutputListener } from "./chunk-job.js";
import { OUTPUT_BURST, OUTPUT_LINES_PER_SECOND } from "../wire/protocol.js";

/** What every piece of worker output carries, whichever call wrote it. */
interface OutputLine {
  /** stdout: console.log, info, debug, dir, table; stderr: console.error, warn, trace (and drop notices). */
  readonly stream: "stdout" | "stderr";
  /** What the call wrote, without its final newline (several lines for a multi-line message). */
  readonly text: string;
  readonly host: string;
  readonly pid: number;
  /**
   * On a notice only: how many lines of a run of the chunk did not reach this process, dropped by its node's rate
   * limit or lost on the way (`text` says which).
   */
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
         * arguments shown short (lib/wire/call-text.ts); a drop notice: its chunk's first call.
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

/** The output of a map that starts; undefined when its option turns it off. `callAt` names a submitted call by its index in the batch; absent, lines name their item. */
export function mapOutput(option: OutputOption, callAt?: (index: number) => string): MapOutput | undefined {
  return option === false ? undefined : new MapOutput(option === true ? inherit : option, callAt);
}

/** One map's worker output: its chunks' lines to its sink as they come, and a notice per chunk that lost lines. */
export class MapOutput implements ChunkOutputListener {
  /** Output records this map could not read or trust (said once). */
  private unreadableSaid = false;

  constructor(
    private readonly sink: (output: WorkerOutput) => void,
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

  heard(record: OutputRecord): void {
    const { index, stream, text, host, pid } = record;
    this.deliver(this.by(index, { stream, text, host, pid }));
  }

  unreadable(error: Error): void {
    if (this.unreadableSaid) return;
    this.unreadableSaid = true;
    process.emitWarning(`worker output lost: ${error.message}`, { code: "GLIMPSE_OUTPUT" });
  }

  /**
   * A run of a chunk answered, after `heard` of its lines arrived: its tally says how many its node sent and
   * how many its rate limit dropped. Either shortfall is said, once per run.
   */
  responded(chunk: Chunk<unknown>, response: ResponseMeta, heard: number): void {
    const tally: OutputTally | undefined = response.output;
    if (tally === undefined) return;
    const lost = Math.max(0, tally.lines - heard);
    const notice = (count: number, why: string) =>
      this.deliver(
        this.by(chunk.start, {
          stream: "stderr",
          text: `${count} line${count === 1 ? "" : "s"} of output of ${this.writers(chunk)} ${why}`,
          host: response.host,
          pid: response.pid,
          dropped: count,
        }),
      );
    if (tally.dropped > 0)
      notice(
        tally.dropped,
        `dropped: a worker node forwards at most ${OUTPUT_LINES_PER_SECOND} lines a second, bursts of ${OUTPUT_BURST}`,
      );
    if (lost > 0)
      notice(
        lost,
        `did not arrive with its result: refused here (said above), or sent by a node of a release that sends output on ` +
          `the log channel only (glimpse-cluster logs shows them)`,
      );
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
