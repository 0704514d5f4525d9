/**
 * The piscina task that runs one chunk on a worker thread.
 *
 *   phase waiting → running (else skipped: cancelled while it waited behind another chunk)
 *   request bytes + head (read by the node) ──decodeChunkBody──► wait for the memory version it needs
 *        ──► resolve fn (compile source once per hash, with the compiler helpers it lists / import module once)
 *        ──► fn(item) for each item, in order ──► response bytes (moved, not copied)
 *            (results written straight into a Float64Array while they are all numbers and the
 *             client reads the numbers codec; into an array from the first one that is not)
 *
 * A throwing item ends the chunk with an error response naming its index,
 * carrying the results of the items before it; in a settled chunk (request
 * flag) each item's error takes its place and the rest run on (settle.ts).
 * A spread chunk's items are argument lists: fn(...item).
 * A function the node's policy refuses (workerData.policy) is never compiled or
 * imported: the chunk ends with FunctionRefusedError.
 */
import os from "node:os";
import { BroadcastChannel, threadId } from "node:worker_threads";
import { Piscina, move } from "piscina";
import { Kind, decodeChunkBody, readChunkRequest, type ChunkRequestHead } from "../wire/chunk-codec.js";
import {
  FILE_PAYLOAD_BYTES,
  isFileReference,
  readFileReference,
  readPayloadFile,
  referenceFrame,
  writeIntoPayloadFile,
  type FileReference,
} from "../wire/payload-file.js";
import { WireFormatError } from "../wire/errors.js";
import { SplitPayload } from "../wire/split-payload.js";
import {
  encodeChunkResponse,
  encodeNumbersResponse,
  type ChunkResponse,
  type OutputTally,
} from "../wire/chunk-response.js";
import { NumberElement } from "../wire/number-body.js";
import { serializeError } from "../wire/remote-error.js";
import type { FunctionRef, SourceRef } from "../wire/function-ref.js";
import { shippedBody } from "../wire/shipped-source.js";
import { helperValues } from "./compiler-helpers-runtime.js";
import { memory, replaceMemory } from "./thread-memory.js";
import { MEMORY_CHANNEL, type MemoryMessage } from "./memory-broadcast.js";
import { checkFunction, type FunctionPolicy } from "./function-policy.js";
import {
  cachedFunctionMissing,
  notAFunction,
  payloadUnreachable,
  refuseResultInstances,
  resultNotSendable,
} from "./errors.js";
import { MemoryWait } from "./memory-wait.js";
import { importFunction } from "../threads/module-export.js";
import { callsOf } from "../wire/call-text.js";
import {
  beginChunkOutput,
  endChunkOutput,
  installOutput,
  outputItem,
  type ChunkOutputSink,
  type OutputLink,
} from "./thread-output.js";
import { runSettled, sendSettled } from "./settle.js";

/** What the worker node gives each of its threads. */
export interface ChunkRunnerData {
  readonly policy: FunctionPolicy;
  /** Where the functions' console output goes (thread-output.ts); none: it stays the thread's. */
  readonly output?: OutputLink;
  /** The pool's payload directory (a local cluster's node): chunks and large results through files there. */
  readonly payloadDirectory?: string;
}

type Mapped = (...args: unknown[]) => unknown;

export interface ChunkTask {
  /** The glimpse_map job payload, as received from the job server. */
  readonly request: Uint8Array;
  /** Its header and meta, read by the node (readChunkRequest): the thread decodes only the body. */
  readonly head: ChunkRequestHead;
  /** How long to wait for the memory version the chunk needs, in ms. */
  readonly memoryWaitMs: number;
  /** Two Int32 slots shared with the node (ChunkThreads): the chunk's PHASE, and the threadId that took it. */
  readonly phase: SharedArrayBuffer;
  /** Where its console lines go, when it forwards them (the node's ChunkOutputs). */
  readonly output?: ChunkOutputSink;
}

/** Where a chunk is, as its thread and the node's main thread both see it. */
export const PHASE = Object.freeze({ waiting: 0, running: 1, cancelled: 2, done: 3 });
export const PHASE_SLOT = 0;
export const THREAD_SLOT = 1;

const HOST = os.hostname();
const PAYLOAD_DIRECTORY = (Piscina.workerData as ChunkRunnerData | undefined)?.payloadDirectory;
installOutput((Piscina.workerData as ChunkRunnerData | undefined)?.output);
const POLICY: FunctionPolicy = (Piscina.workerData as ChunkRunnerData | undefined)?.policy ?? {
  allowSource: false,
  allowedModules: [],
  why: "no policy was given to this thread",
};
/** Functions compiled or imported, by key; the oldest leave past COMPILED_KEPT, so a client shipping ever new sources cannot grow a thread without bound. */
const compiled = new Map<string, Mapped>();
const COMPILED_KEPT = 256;
const channel = new BroadcastChannel(MEMORY_CHANNEL);
/**
 * Chunks waiting for a memory version this thread does not hold yet ask the
 * node once: the channel to it does not lose messages, and the node posts
 * every newer version to its threads anyway.
 */
const memoryWait = new MemoryWait("this worker thread", () => memory.version, {
  ask: (version) => channel.postMessage({ type: "need", version } satisfies MemoryMessage),
});
channel.onmessage = (event) => {
  const message = (event as { data: MemoryMessage }).data;
  if (message?.type !== "state") return;
  replaceMemory(message.entries, message.version);
  memoryWait.arrived();
};
channel.unref();

/** The free names a shipped function gets: `memory`, and the compiler helpers its ref lists. */
async function compileSource(ref: SourceRef): Promise<Mapped> {
  const helpers = ref.helpers ?? [];
  const values = helpers.length > 0 ? await helperValues(helpers) : [];
  const fn = new Function("memory", ...helpers, shippedBody(ref.source, ref.hash))(memory, ...values);
  if (typeof fn !== "function") throw notAFunction("shipped source did not evaluate to a function");
  return fn;
}

async function resolveFunction(ref: FunctionRef): Promise<Mapped> {
  const key =
    ref.kind === "source"
      ? `source:${ref.hash}`
      : ref.kind === "module"
        ? `module:${ref.specifier}#${ref.exportName}`
        : `cached:${ref.key}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  checkFunction(ref, POLICY);
  let fn: Mapped;
  if (ref.kind === "source") fn = await compileSource(ref);
  else if (ref.kind === "cached") {
    const stored = memory.get(ref.key) as FunctionRef | undefined;
    if (!stored || stored.kind !== "source") throw cachedFunctionMissing(ref.key);
    fn = await compileSource(stored);
  } else {
    fn = await importFunction<Mapped>(ref.specifier, ref.exportName, notAFunction);
  }
  if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, fn);
  return fn;
}

/** The chunk this thread runs or last ran: a thread runs its chunks one at a time, in the order handed over. */
let previous: Promise<unknown> = Promise.resolve();

/** Runs a chunk after the ones handed over before it; null when it was cancelled before its turn. */
export default function runChunk(task: ChunkTask): Promise<Uint8Array | null> {
  // A chunk handed over while another awaits (an async function, a module import) stays "waiting" until its
  // turn, so stopping it never ends the thread under the running one.
  const turn = previous.then(() => take(task));
  previous = turn.catch(() => {});
  return turn;
}

async function take(task: ChunkTask): Promise<Uint8Array | null> {
  const phase = new Int32Array(task.phase);
  Atomics.store(phase, THREAD_SLOT, threadId);
  if (Atomics.compareExchange(phase, PHASE_SLOT, PHASE.waiting, PHASE.running) !== PHASE.waiting) return null;
  try {
    return await runTakenChunk(task);
  } finally {
    Atomics.store(phase, PHASE_SLOT, PHASE.done);
  }
}

async function runTakenChunk(task: ChunkTask): Promise<Uint8Array> {
  const started = performance.now();
  const { bytes, head, file } = readRequest(task);
  const request = decodeChunkBody(bytes, head);
  // While its request file still begins with this request (its header and meta), the slot is this chunk's.
  const owner = file && { file: file.file, head: bytes.subarray(0, head.bodyStart) };
  const moved = (out: Buffer | SplitPayload) => {
    // A large response to a chunk that came as a file goes back the same way, into the file its pool made for it,
    // its large typed arrays written from where they lie.
    if (
      file?.reply &&
      out.length >= FILE_PAYLOAD_BYTES &&
      writeIntoPayloadFile(PAYLOAD_DIRECTORY!, file.reply, out, owner)
    )
      return referenceFrame(out, file.reply);
    const whole = out instanceof SplitPayload ? out.join() : out;
    return move(whole as unknown as ArrayBufferView) as unknown as Uint8Array;
  };
  const apartBytes = file?.reply ? FILE_PAYLOAD_BYTES : undefined;
  const respond = (response: ChunkResponse) =>
    moved(encodeChunkResponse(response, request.codec, request.replyNumbers, apartBytes));
  let output: { readonly tally: OutputTally | undefined } | undefined;
  const where = () => {
    output ??= { tally: endChunkOutput() }; // once: a response encoded again keeps the tally
    return { host: HOST, pid: process.pid, elapsedMs: performance.now() - started, output: output.tally };
  };
  let index = request.start;
  beginChunkOutput(request.mapId, request.chunk, request.start, request.output !== false, task.output);
  // Pushed, not preallocated: the V8 serializer writes a holey array (new Array(n)) element by element with
  // its index, 6x slower and twice the bytes of a packed one, and the client then reads a dictionary array.
  const results: unknown[] = [];
  let numbers: Float64Array | undefined;
  let position = 0; // the item running: those before it were computed
  try {
    await memoryWait.ready(request.memoryVersion, task.memoryWaitMs);
    const fn = await resolveFunction(request.fn);
    const { items, spread, indexes } = request;
    if (request.settle) {
      const callAt = request.calls === undefined ? undefined : callsOf(request.calls, items, spread);
      const settled = await runSettled(fn, request, (i) =>
        outputItem(indexes ? indexes[i] : request.start + i, callAt && (() => callAt(i))),
      );
      return sendSettled(settled, (out) => respond({ ok: true, ...out, ...where() }));
    }
    const n = items.length;
    // Number results go straight into a typed array (no array, no per-item encoding) while they last.
    numbers = request.replyNumbers ? new Float64Array(n) : undefined;
    let int32 = true;
    for (let i = 0; i < n; i++) {
      position = i;
      index = indexes ? indexes[i] : request.start + i;
      outputItem(index);
      let result = spread ? fn(...(items[i] as unknown[])) : fn(items[i]);
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === "function")
        result = await (result as PromiseLike<unknown>);
      if (numbers !== undefined) {
        if (typeof result === "number") {
          numbers[i] = result;
          if (int32 && ((result | 0) !== result || (result === 0 && 1 / result < 0))) int32 = false;
          continue;
        }
        for (let k = 0; k < i; k++) results.push(numbers[k]);
        numbers = undefined;
      }
      // Checked as it comes, so the items before it go back with its error.
      refuseResultInstances(result);
      results.push(result);
    }
    if (numbers !== undefined)
      return moved(encodeNumbersResponse(numbers, int32 ? NumberElement.Int32 : NumberElement.Float64, where()));
    try {
      return respond({ ok: true, results, ...where() });
    } catch (error) {
      position = firstUnserializable(results);
      index = request.indexes?.[position] ?? request.start + position;
      throw resultNotSendable(error);
    }
  } catch (error) {
    // The items before the failing one were computed: they go back with the error (imap yields them).
    const failure = { ok: false as const, index, error: serializeError(error), ...where() };
    try {
      return respond({
        ...failure,
        results: numbers ? Array.from(numbers.subarray(0, position)) : results.slice(0, position),
      });
    } catch {
      return respond(failure);
    }
  }
}

/** The request's bytes and head: as the node handed them over, or read whole from the payload file they name. */
function readRequest(task: ChunkTask): { bytes: Uint8Array; head: ChunkRequestHead; file?: FileReference } {
  if (!isFileReference(task.request)) return { bytes: task.request, head: task.head };
  const what = `chunk ${task.head.chunk} of map ${task.head.mapId}`;
  const file = readFileReference(task.request, Kind.Request, what);
  if (PAYLOAD_DIRECTORY === undefined) throw payloadUnreachable(what, file.file, HOST);
  const bytes = readPayloadFile(PAYLOAD_DIRECTORY, file, `${what} on ${HOST}`);
  const head = readChunkRequest(bytes);
  if (head.mapId !== task.head.mapId || head.chunk !== task.head.chunk || isFileReference(bytes))
    throw new WireFormatError(`${what}: its payload file ${file.file} holds another chunk`);
  return { bytes, head, file };
}

function firstUnserializable(results: unknown[]): number {
  for (let i = 0; i < results.length; i++) {
    try {
      structuredClone(results[i]);
    } catch {
      return i;
    }
  }
  return 0;
}
