/**
 * Worker output on a chunk thread: what a function writes with console
 * (log, info, debug, dir, table: stdout; error, warn, trace: stderr) while
 * it maps an item goes to the node's main thread, which sends it to the
 * client that ran the map on the chunk's own job (chunk-output.ts), and
 * publishes it on the log channel for `glimpse-cluster logs` and dashboards.
 *
 *   console.log(...) ──the thread's Console (formats as Node does)──► a chunk forwards? ──no──► the thread's stdout, as before
 *        yes: a token (output-bucket.ts)? ──yes──► count it in the chunk's counter, BroadcastChannel ──► the node
 *                                         └─no───► dropped, counted in the chunk's tally
 *
 * The counter (shared with the node) says how many lines the node must have
 * received before it answers the chunk; the tally (lines forwarded, lines
 * dropped) goes back in the response, so the client can say what was dropped.
 * Only console is captured: process.stdout.write goes to the node.
 */
import { Console } from "node:console";
import { BroadcastChannel } from "node:worker_threads";
import { takeToken } from "./output-bucket.js";
import type { OutputTally } from "../wire/chunk-response.js";

/** How a node's threads reach it for output: a BroadcastChannel of its own, and the shared rate limit. */
export interface OutputLink {
  readonly channel: string;
  readonly bucket: SharedArrayBuffer;
}

export type OutputStream = "stdout" | "stderr";

/** Where a running chunk's lines go: its id at the node, and the count of lines sent (an Int32Array's one slot). */
export interface ChunkOutputSink {
  readonly id: number;
  readonly sent: SharedArrayBuffer;
}

/** One console call, as a thread hands it to its node. */
export interface OutputLine {
  /** The chunk's sink at the node (ChunkOutputSink.id); absent when the node gave none. */
  readonly sink?: number;
  readonly mapId: string;
  readonly chunk: number;
  /** The item (its index within the whole map) whose function call wrote it. */
  readonly index: number;
  /** For a chunk of submitted calls: the call that wrote it, `fn(5)`, as the pool names it. */
  readonly call?: string;
  readonly stream: OutputStream;
  /** What the call wrote, without its final newline; at most OUTPUT_MAX_CHARS characters. */
  readonly text: string;
}

/** A call's text beyond this is cut, saying how much was. */
export const OUTPUT_MAX_CHARS = 16_384;

let link: { readonly channel: BroadcastChannel; readonly bucket: Int32Array } | undefined;
/** The chunk whose output is forwarded now, and its tally. */
let current:
  | {
      mapId: string;
      chunk: number;
      index: number;
      call?: () => string;
      lines: number;
      dropped: number;
      sink?: number;
      sent?: Int32Array;
    }
  | undefined;

/** Replaces the thread's console with one whose output a chunk can forward; nothing without a link (output stays the thread's). */
export function installOutput(given: OutputLink | undefined): void {
  if (given === undefined || link !== undefined) return;
  link = { channel: new BroadcastChannel(given.channel), bucket: new Int32Array(given.bucket) };
  link.channel.unref();
  const stream = (name: OutputStream) => ({
    write(chunk: string | Uint8Array): boolean {
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
      if (!forward(name, text)) process[name].write(chunk);
      return true;
    },
  });
  globalThis.console = new Console({
    stdout: stream("stdout") as unknown as NodeJS.WritableStream,
    stderr: stream("stderr") as unknown as NodeJS.WritableStream,
    colorMode: false,
    ignoreErrors: false,
  });
}

/** From now on, the console output of the functions the thread runs belongs to this chunk (if it forwards output). */
export function beginChunkOutput(
  mapId: string,
  chunk: number,
  start: number,
  forwarded: boolean,
  sink?: ChunkOutputSink,
): void {
  current =
    forwarded && link !== undefined
      ? { mapId, chunk, index: start, lines: 0, dropped: 0, sink: sink?.id, sent: sink && new Int32Array(sink.sent) }
      : undefined;
}

/** The item whose function call runs now; `call` names it, in a chunk of submitted calls (made only if it writes). */
export function outputItem(index: number, call?: () => string): void {
  if (current !== undefined) {
    current.index = index;
    current.call = call;
  }
}

/** Ends the chunk's output; its tally when it forwarded any line or dropped one. */
export function endChunkOutput(): OutputTally | undefined {
  const ended = current;
  current = undefined;
  return ended && ended.lines + ended.dropped > 0 ? { lines: ended.lines, dropped: ended.dropped } : undefined;
}

/** Whether a console write was taken from the thread's stdout / stderr: forwarded, or dropped over the rate. */
function forward(stream: OutputStream, written: string): boolean {
  const at = current;
  if (at === undefined || link === undefined) return false;
  if (!takeToken(link.bucket)) {
    at.dropped++;
    return true;
  }
  at.lines++;
  const text = written.endsWith("\n") ? written.slice(0, -1) : written;
  const line: OutputLine = {
    sink: at.sink,
    mapId: at.mapId,
    chunk: at.chunk,
    index: at.index,
    call: at.call?.(),
    stream,
    text: clip(text),
  };
  // Counted before it is posted: the node waits for every line counted before it answers the chunk.
  if (at.sent) Atomics.add(at.sent, 0, 1);
  link.channel.postMessage(line);
  return true;
}

function clip(text: string): string {
  if (text.length <= OUTPUT_MAX_CHARS) return text;
  return `${text.slice(0, OUTPUT_MAX_CHARS)}… (${text.length - OUTPUT_MAX_CHARS} more characters)`;
}
