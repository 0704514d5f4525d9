/**
 * The glimpse_map wire format, version 1 (docs/wire-format.md):
 *
 *   offset 0  "GLMP"          magic
 *          4  u8 version       1
 *          5  u8 kind          1 request (client → worker), 2 response (worker → client)
 *          6  u8 codec         1 V8 structured clone, 2 JSON (UTF-8), 3 numbers (raw bytes: number-body.ts)
 *          7  u8 flags         bit 0: signed (a 56-byte signature trailer follows the body);
 *                              requests only: bit 1 spread (fn(...item)), bit 2 settle (every item runs); other bits 0
 *          8  u32 BE n         length of the meta block
 *         12  meta             JSON (UTF-8), always JSON whatever the codec: small routing fields
 *       12+n  body             the codec's encoding of the payload
 *   [end-56]  signature        if signed: u64 BE time ms | 16-byte nonce | HMAC-SHA256 (chunk-signing.ts)
 *
 * Request meta  {mapId, chunk, start, count, memoryVersion, replyNumbers?, output?, indexes?}; body {fn, items}.
 * Response meta {ok, host, pid, elapsedMs, index?, output?}; body {results, errors?} or {error}, the last with
 * the results computed before the failing item, if any ({error, results} or {error, numbers}).
 * A settled request's response is ok with each item's error in `errors` ({at, error}: its position).
 * Items or results that are all numbers travel with the numbers codec, as
 * their raw bytes (number-body.ts); a response does when its request says
 * `replyNumbers` (or is itself in that codec). Still read, never written by
 * this pool: V8 bodies {fn, numbers} and {numbers}, a typed array standing
 * for the items or results (packed-numbers.ts, the form before the numbers codec);
 * a failed response's computed results are written so (V8) still.
 *
 * A request is read in stages, each part once, as far as its reader trusts it:
 *
 *   bytes ──readFrame──► ChunkFrame (ours: magic; kind; signed?) ──verifyChunk (chunk-signing.ts)
 *         ──readChunkRequest──► ChunkRequestHead (header checked, meta parsed: what a node routes by)
 *         ──decodeChunkBody──► DecodedChunkRequest (fn and items, on the thread that runs it)
 */
import { toBuffer } from "../bytes.js";
import v8 from "node:v8";
import type { FunctionRef } from "./function-ref.js";
import { SIGNATURE_BYTES } from "../security/cluster-key.js";
import type { SerializedError } from "./remote-error.js";
import { refuseClassInstances } from "./item-classes.js";
import { ItemSerializationError, WireFormatError } from "./errors.js";
import { isPackedNumbers, packNumbers, unpackNumbers } from "./packed-numbers.js";
import {
  numberElement,
  numbersBodySize,
  readNumbersBody,
  writeNumbersBody,
  type NumberElement,
} from "./number-body.js";

export const WIRE_VERSION = 1;
export const enum Kind {
  Request = 1,
  Response = 2,
}
export const enum Codec {
  V8 = 1,
  Json = 2,
  /** Items or results that are all numbers, as raw bytes (number-body.ts); chosen by the encoders, never asked for. */
  Numbers = 3,
}
const MAGIC = 0x474c4d50; // "GLMP"
/** Bytes before the meta block. */
export const HEADER = 12;
/** How the wire functions name the bytes they are given, should they not be bytes at all. */
export const PAYLOAD = "chunk payload";
/** Flag bit 0: a signature trailer follows the body (chunk-signing.ts). */
export const FLAG_SIGNED = 1;
/** Request flag bit 1: each item is an argument list; the worker calls fn(...item) (starmap, submit). */
export const FLAG_SPREAD = 2;
/** Request flag bit 2: every item runs, and each one's error comes back in its place (errors: "return", retryOn). */
export const FLAG_SETTLE = 4;
/**
 * Flags a reader of each kind knows. A node older than a flag refuses a request that carries it
 * (WireFormatError) rather than calling the function the wrong way.
 */
const KNOWN_FLAGS = { [1]: FLAG_SIGNED | FLAG_SPREAD | FLAG_SETTLE, [2]: FLAG_SIGNED } as Record<number, number>;
const SIGNATURE_ROOM = Buffer.alloc(SIGNATURE_BYTES);

export interface ChunkRequestMeta {
  readonly mapId: string;
  readonly chunk: number;
  /** Index of items[0] within the whole map. */
  readonly start: number;
  readonly count: number;
  /** The shared memory version the chunk needs (0: none). */
  readonly memoryVersion: number;
  /** Each item's index within the whole map, when they are not start, start + 1, ...: a retry of some of a chunk's items. */
  readonly indexes?: readonly number[];
  /** false: the function's console output is not forwarded to the client (it stays on the node). Default true. */
  readonly output?: boolean;
}

/** What a chunk's function wrote with console: lines forwarded on the log channel, and lines its node's rate limit dropped. */
export interface OutputTally {
  readonly lines: number;
  readonly dropped: number;
}

/** How the worker calls the function on a chunk's items (request flags). */
export interface CallMode {
  /** Each item is an argument list: fn(...item). */
  readonly spread?: boolean;
  /** Every item runs; each one's error comes back in its place (ChunkResponse `errors`) instead of ending the chunk. */
  readonly settle?: boolean;
}

export interface ChunkRequest extends ChunkRequestMeta, CallMode {
  readonly fn: FunctionRef;
  readonly items: unknown[];
}

/**
 * A request's header and meta, read once by the node that received it: its
 * routing fields, and where its body lies for the thread that decodes it.
 */
export interface ChunkRequestHead extends ChunkRequestMeta {
  readonly codec: Codec;
  /** Results that are all numbers may go back with the numbers codec (the client reads it). */
  readonly replyNumbers: boolean;
  readonly spread: boolean;
  readonly settle: boolean;
  /** The body is bytes [bodyStart, bodyEnd) of the payload (a signature, if any, follows). */
  readonly bodyStart: number;
  readonly bodyEnd: number;
}

/** A request as a worker reads it: packed numbers stay a typed array (indexing it gives the numbers). */
export interface DecodedChunkRequest extends ChunkRequestMeta {
  readonly fn: FunctionRef;
  readonly items: ArrayLike<unknown>;
  readonly codec: Codec;
  readonly replyNumbers: boolean;
  readonly spread: boolean;
  readonly settle: boolean;
}

export interface ResponseMeta {
  readonly host: string;
  readonly pid: number;
  readonly elapsedMs: number;
  /** Present when the chunk's function wrote console output. */
  readonly output?: OutputTally;
}

/** One item of a settled chunk that threw: `at` is its position in the request's items. */
export interface ItemFailure {
  readonly at: number;
  readonly error: SerializedError;
}

export type ChunkResponse =
  | (ResponseMeta & { readonly ok: true; readonly results: unknown[]; readonly errors?: readonly ItemFailure[] })
  | (ResponseMeta & {
      readonly ok: false;
      readonly index: number;
      readonly error: SerializedError;
      /** The results of the chunk's items before `index`, computed before it failed (none: empty or absent). */
      readonly results?: unknown[];
    });

/** Results in a body: packed when they are all numbers (V8 codec). */
function resultsBody(codec: Codec, results: unknown[]): { numbers: unknown } | { results: unknown[] } {
  const numbers = codec === Codec.V8 ? packNumbers(results) : undefined;
  return numbers ? { numbers } : { results };
}

/** The results a body carries, packed or not; undefined when it has none. */
function bodyResults(
  codec: Codec,
  payload: { results?: unknown; numbers?: unknown } | undefined,
): unknown[] | undefined {
  if (codec === Codec.V8 && isPackedNumbers(payload?.numbers)) return unpackNumbers(payload.numbers);
  return Array.isArray(payload?.results) ? payload.results : undefined;
}

/**
 * Header, meta block and body in one buffer. The V8 body is serialized right
 * behind the meta block, so it is never copied, and room for a signature is
 * left at the end of its buffer (signChunkInPlace, chunk-signing.ts).
 */
function frame(kind: Kind, codec: Codec, meta: object, value: unknown, flags = 0): Buffer {
  const metaBytes = Buffer.from(JSON.stringify(meta));
  const head = writeHead(Buffer.allocUnsafe(HEADER), kind, codec, metaBytes.length, flags);
  if (codec === Codec.Json) return Buffer.concat([head, metaBytes, Buffer.from(JSON.stringify(value))]);
  const serializer = new v8.DefaultSerializer();
  serializer.writeRawBytes(head);
  serializer.writeRawBytes(metaBytes);
  serializer.writeHeader();
  serializer.writeValue(value);
  serializer.writeRawBytes(SIGNATURE_ROOM);
  const out = serializer.releaseBuffer();
  return out.subarray(0, out.length - SIGNATURE_BYTES);
}

function writeHead(out: Buffer, kind: Kind, codec: Codec, metaLength: number, flags = 0): Buffer {
  out.writeUInt32BE(MAGIC, 0);
  out[4] = WIRE_VERSION;
  out[5] = kind;
  out[6] = codec;
  out[7] = flags;
  out.writeUInt32BE(metaLength, 8);
  return out;
}

/**
 * A numbers-codec payload in a buffer of its own (so its numbers lie
 * aligned), with room for a signature at its end as frame() leaves.
 */
function numbersFrame(
  kind: Kind,
  meta: object,
  element: NumberElement,
  fnJson: Buffer | undefined,
  values: ArrayLike<number>,
  flags = 0,
): Buffer {
  const metaBytes = Buffer.from(JSON.stringify(meta));
  const bodyStart = HEADER + metaBytes.length;
  const size = bodyStart + numbersBodySize(bodyStart, element, fnJson?.length ?? 0, values.length);
  const out = writeHead(Buffer.allocUnsafeSlow(size + SIGNATURE_BYTES), kind, Codec.Numbers, metaBytes.length, flags);
  metaBytes.copy(out, HEADER);
  writeNumbersBody(out, bodyStart, element, fnJson, values);
  return out.subarray(0, size);
}

/** A function reference's JSON, made once per reference (a map's chunks share theirs). */
const fnJsonOf = new WeakMap<FunctionRef, Buffer>();
function functionJson(fn: FunctionRef): Buffer {
  let json = fnJsonOf.get(fn);
  if (json === undefined) fnJsonOf.set(fn, (json = Buffer.from(JSON.stringify(fn))));
  return json;
}

/**
 * A payload as first read, before anything in it is trusted: it is ours (12
 * bytes or more, the magic), its kind byte and whether it says it is signed:
 * all its signature check needs. The rest of its header is checked when
 * its meta block is read.
 */
export interface ChunkFrame {
  readonly bytes: Buffer;
  /** The kind byte, not checked yet (Kind.Request or Kind.Response when valid). */
  readonly kind: number;
  /** Flag bit 0. */
  readonly signed: boolean;
}

/** Reads a payload's frame; `what` names it in the WireFormatError a payload that is not ours gets. */
export function readFrame(bytes: Uint8Array, what = PAYLOAD): ChunkFrame {
  const buf = toBuffer(bytes, PAYLOAD);
  if (buf.length < HEADER) throw new WireFormatError(`${what}: ${buf.length} bytes is shorter than the 12-byte header`);
  if (buf.readUInt32BE(0) !== MAGIC) throw new WireFormatError(`${what}: bad magic (not a glimpse_map payload)`);
  return { bytes: buf, kind: buf[5], signed: (buf[7] & FLAG_SIGNED) !== 0 };
}

interface Framed {
  readonly codec: Codec;
  readonly flags: number;
  readonly meta: Record<string, unknown>;
  readonly bodyStart: number;
  readonly end: number;
}

/** The rest of the header checked and the meta block parsed. */
function unframe(frame: ChunkFrame, expected: Kind): Framed {
  const buf = frame.bytes;
  const what = expected === Kind.Request ? "chunk request" : "chunk response";
  if (buf[4] !== WIRE_VERSION)
    throw new WireFormatError(
      `${what}: wire format version ${buf[4]} is not supported (this side speaks ${WIRE_VERSION})`,
    );
  if (frame.kind !== expected) throw new WireFormatError(`${what}: message kind ${frame.kind}, expected ${expected}`);
  const codec = buf[6];
  if (codec !== Codec.V8 && codec !== Codec.Json && codec !== Codec.Numbers)
    throw new WireFormatError(`${what}: unknown codec ${codec}`);
  if ((buf[7] & ~KNOWN_FLAGS[expected]) !== 0)
    throw new WireFormatError(`${what}: flags ${buf[7]} are not supported in version ${WIRE_VERSION}`);
  const end = frame.signed ? buf.length - SIGNATURE_BYTES : buf.length;
  const metaLength = buf.readUInt32BE(8);
  if (HEADER + metaLength > end)
    throw new WireFormatError(`${what}: meta block of ${metaLength} bytes runs past the end`);
  let meta: Record<string, unknown>;
  try {
    meta = JSON.parse(buf.toString("utf8", HEADER, HEADER + metaLength));
  } catch (error) {
    throw new WireFormatError(`${what}: meta block is not JSON (${(error as Error).message})`);
  }
  if (meta === null || typeof meta !== "object") throw new WireFormatError(`${what}: meta block is not a JSON object`);
  return { codec, meta, flags: buf[7], bodyStart: HEADER + metaLength, end };
}

function encodeBody(codec: Codec, value: unknown): Buffer {
  return codec === Codec.V8 ? v8.serialize(value) : Buffer.from(JSON.stringify(value));
}

// Decoded bytes are untyped until the caller has checked them field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function decodeBody(codec: Codec, body: Buffer, what: string): any {
  try {
    return codec === Codec.V8 ? v8.deserialize(body) : JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new WireFormatError(`${what}: body does not decode (${(error as Error).message})`);
  }
}

/**
 * Encodes a chunk request: with the V8 codec (the default) items that are
 * all numbers (an array of them, or a typed array) go with the numbers
 * codec, and the request says the client reads number results that way.
 * An item that cannot be serialized, or holds a class instance that would
 * arrive as a plain object (item-classes.ts), throws ItemSerializationError
 * naming its index.
 */
export function encodeChunkRequest(
  request: Omit<ChunkRequest, "count" | "items"> & { readonly items: ArrayLike<unknown> },
  codec: Codec = Codec.V8,
): Buffer {
  const meta: ChunkRequestMeta & { replyNumbers?: true } = {
    mapId: request.mapId,
    chunk: request.chunk,
    start: request.start,
    count: request.items.length,
    memoryVersion: request.memoryVersion,
    ...(request.output === false ? { output: false } : {}),
    ...(request.indexes ? { indexes: request.indexes } : {}),
  };
  const flags = (request.spread ? FLAG_SPREAD : 0) | (request.settle ? FLAG_SETTLE : 0);
  if (codec === Codec.V8) {
    meta.replyNumbers = true;
    const element = numberElement(request.items);
    if (element !== undefined)
      return numbersFrame(
        Kind.Request,
        meta,
        element,
        functionJson(request.fn),
        request.items as ArrayLike<number>,
        flags,
      );
  } else if (codec === Codec.Numbers)
    throw new WireFormatError("chunk request: the numbers codec is chosen, not asked for");
  const items = Array.isArray(request.items) ? request.items : Array.from(request.items);
  refuseClassInstances(items, request.start);
  try {
    return frame(Kind.Request, codec, meta, { fn: request.fn, items }, flags);
  } catch (error) {
    for (let i = 0; i < items.length; i++) {
      try {
        encodeBody(codec, items[i]);
      } catch (itemError) {
        throw new ItemSerializationError(request.start + i, itemError);
      }
    }
    throw error;
  }
}

/**
 * About how many bytes one item takes in a request body (V8 codec), from up
 * to 16 items spread over `items`: 8 when they are numbers (they travel as
 * raw bytes), 64 when the sample cannot be serialized (encoding then names
 * the item that fails).
 */
export function estimateItemBytes(items: ArrayLike<unknown>): number {
  const n = items.length;
  if (n === 0) return 1;
  const step = Math.max(1, Math.floor(n / 16));
  const sample: unknown[] = [];
  for (let i = 0; i < n && sample.length < 16; i += step) sample.push(items[i]);
  if (sample.every((item) => typeof item === "number")) return Float64Array.BYTES_PER_ELEMENT;
  try {
    return Math.ceil(v8.serialize(sample).length / sample.length);
  } catch {
    return 64;
  }
}

/** A request's header and meta (its items are not decoded): from its bytes, or from the frame its signature was checked on. */
export function readChunkRequest(from: Uint8Array | ChunkFrame): ChunkRequestHead {
  const { codec, meta, flags, bodyStart, end } = unframe(
    from instanceof Uint8Array ? readFrame(from, "chunk request") : from,
    Kind.Request,
  );
  const { mapId, chunk, start, count, memoryVersion, replyNumbers, output, indexes } = meta;
  if (
    typeof mapId !== "string" ||
    (output !== undefined && typeof output !== "boolean") ||
    ![chunk, start, count, memoryVersion].every((n) => Number.isInteger(n) && (n as number) >= 0)
  ) {
    throw new WireFormatError(`chunk request: meta block lacks mapId, chunk, start, count or memoryVersion`);
  }
  if (
    indexes !== undefined &&
    !(Array.isArray(indexes) && indexes.length === count && indexes.every((n) => Number.isInteger(n) && n >= 0))
  ) {
    throw new WireFormatError(`chunk request: meta indexes is not a list of ${count} item indexes`);
  }
  return {
    mapId,
    chunk: chunk as number,
    start: start as number,
    count: count as number,
    memoryVersion: memoryVersion as number,
    ...(output === false ? { output } : {}),
    ...(indexes !== undefined ? { indexes: indexes as number[] } : {}),
    codec,
    replyNumbers: replyNumbers === true || codec === Codec.Numbers,
    spread: (flags & FLAG_SPREAD) !== 0,
    settle: (flags & FLAG_SETTLE) !== 0,
    bodyStart,
    bodyEnd: end,
  };
}

export function decodeChunkRequest(bytes: Uint8Array): DecodedChunkRequest {
  return decodeChunkBody(bytes, readChunkRequest(bytes));
}

/** The body of a request whose head was read (readChunkRequest) from these same bytes. */
export function decodeChunkBody(bytes: Uint8Array, head: ChunkRequestHead): DecodedChunkRequest {
  const { codec } = head;
  const buf = toBuffer(bytes, PAYLOAD);
  const payload =
    codec === Codec.Numbers
      ? numbersRequest(buf, head)
      : decodeBody(codec, buf.subarray(head.bodyStart, head.bodyEnd), "chunk request");
  const items: ArrayLike<unknown> | undefined = Array.isArray(payload?.items)
    ? payload.items
    : codec !== Codec.Json && isPackedNumbers(payload?.numbers)
      ? payload.numbers
      : undefined;
  if (!items || typeof payload.fn !== "object" || payload.fn === null) {
    throw new WireFormatError("chunk request: body lacks fn or items");
  }
  if (items.length !== head.count)
    throw new WireFormatError(`chunk request: meta says ${head.count} items, body has ${items.length}`);
  const { mapId, chunk, start, count, memoryVersion, replyNumbers, output, indexes, spread, settle } = head;
  return {
    mapId,
    chunk,
    start,
    count,
    memoryVersion,
    ...(output === false ? { output } : {}),
    ...(indexes !== undefined ? { indexes } : {}),
    fn: payload.fn,
    items,
    codec,
    replyNumbers,
    spread,
    settle,
  };
}

/** A numbers-codec request body as {fn, numbers}, as a V8 body of packed numbers reads. */
function numbersRequest(buf: Buffer, head: ChunkRequestHead): { fn: unknown; numbers: unknown } {
  const { fnJson, numbers } = readNumbersBody(buf, head.bodyStart, head.bodyEnd, "chunk request");
  try {
    return { fn: JSON.parse(fnJson), numbers };
  } catch (error) {
    throw new WireFormatError(`chunk request: function reference is not JSON (${(error as Error).message})`);
  }
}

/**
 * Encodes a response in the codec its request allows: results that are all
 * numbers with the numbers codec when `replyNumbers` (the request's), else
 * (V8) packed as before it; JSON stays JSON. A request in the numbers codec
 * is answered in V8 when its results are not all numbers, and always on error.
 */
export function encodeChunkResponse(response: ChunkResponse, codec: Codec = Codec.V8, replyNumbers = false): Buffer {
  const { host, pid, elapsedMs } = response;
  if (codec === Codec.Numbers) codec = Codec.V8;
  if (response.ok && !response.errors?.length && codec === Codec.V8 && replyNumbers) {
    const element = numberElement(response.results);
    if (element !== undefined) return encodeNumbersResponse(response.results as number[], element, response);
  }
  const output = response.output && { output: { lines: response.output.lines, dropped: response.output.dropped } };
  if (response.ok && response.errors?.length)
    return frame(
      Kind.Response,
      codec,
      { ok: true, host, pid, elapsedMs, ...output },
      { results: response.results, errors: response.errors },
    );
  if (response.ok)
    return frame(
      Kind.Response,
      codec,
      { ok: true, host, pid, elapsedMs, ...output },
      resultsBody(codec, response.results),
    );
  const computed = response.results && response.results.length > 0 ? resultsBody(codec, response.results) : {};
  return frame(
    Kind.Response,
    codec,
    { ok: false, host, pid, elapsedMs, index: response.index, ...output },
    { error: response.error, ...computed },
  );
}

/** A successful response whose results are all numbers (`element`: numberElement's), in the numbers codec. */
export function encodeNumbersResponse(results: ArrayLike<number>, element: NumberElement, where: ResponseMeta): Buffer {
  const { host, pid, elapsedMs, output } = where;
  const tally = output && { output: { lines: output.lines, dropped: output.dropped } };
  return numbersFrame(Kind.Response, { ok: true, host, pid, elapsedMs, ...tally }, element, undefined, results);
}

export function decodeChunkResponse(bytes: Uint8Array): ChunkResponse {
  const frame = readFrame(bytes, "chunk response");
  const { codec, meta, bodyStart, end } = unframe(frame, Kind.Response);
  const base = {
    host: String(meta.host ?? "?"),
    pid: Number(meta.pid ?? 0),
    elapsedMs: Number(meta.elapsedMs ?? 0),
    ...readTally(meta.output),
  };
  if (codec === Codec.Numbers) {
    if (meta.ok !== true) throw new WireFormatError("chunk response: a numbers body in a failed response");
    const { numbers } = readNumbersBody(frame.bytes, bodyStart, end, "chunk response");
    return { ...base, ok: true, results: unpackNumbers(numbers) };
  }
  const payload = decodeBody(codec, frame.bytes.subarray(bodyStart, end), "chunk response");
  const results = bodyResults(codec, payload);
  if (meta.ok === true) {
    if (!results) throw new WireFormatError("chunk response: body lacks results");
    if (payload?.errors === undefined) return { ...base, ok: true, results };
    return { ...base, ok: true, results, errors: readItemFailures(payload.errors, results.length) };
  }
  if (!payload?.error || typeof payload.error.message !== "string")
    throw new WireFormatError("chunk response: body lacks error");
  return { ...base, ok: false, index: Number(meta.index ?? -1), error: payload.error, ...(results ? { results } : {}) };
}

/** A response's output tally, when its meta block has a well-formed one. */
function readTally(value: unknown): { output?: OutputTally } {
  const tally = value as Partial<OutputTally> | undefined;
  return tally !== null && typeof tally === "object" && Number.isInteger(tally.lines) && Number.isInteger(tally.dropped)
    ? { output: { lines: tally.lines!, dropped: tally.dropped! } }
    : {};
}

/** Whether a chunk response says its chunk succeeded, from its meta block alone (the body is not decoded). */
export function peekResponseOk(bytes: Uint8Array): boolean {
  return unframe(readFrame(bytes, "chunk response"), Kind.Response).meta.ok === true;
}

/** A settled response's `errors`, checked: each names a position among the results and carries an error. */
function readItemFailures(value: unknown, count: number): ItemFailure[] {
  const bad = (why: string) => new WireFormatError(`chunk response: errors ${why}`);
  if (!Array.isArray(value)) throw bad("is not a list");
  for (const failure of value) {
    const at = (failure as ItemFailure)?.at;
    if (!Number.isInteger(at) || at < 0 || at >= count) throw bad(`names position ${at}, outside the ${count} results`);
    if (typeof (failure as ItemFailure).error?.message !== "string") throw bad(`at ${at} lacks an error message`);
  }
  return value as ItemFailure[];
}
