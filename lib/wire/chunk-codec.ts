/**
 * The glimpse_map wire format, version 1 (docs/wire-format.md):
 *
 *   offset 0  "GLMP"          magic
 *          4  u8 version       1
 *          5  u8 kind          1 request (client → worker), 2 response (worker → client)
 *          6  u8 codec         1 V8 structured clone, 2 JSON (UTF-8), 3 numbers (raw bytes: number-body.ts)
 *          7  u8 flags         bit 0: signed (a 56-byte signature trailer follows the body);
 *                              requests only: bit 1 spread (fn(...item)), bit 2 settle (every item runs);
 *                              bit 3: the body names the file holding the payload (payload-file.ts); other bits 0
 *          8  u32 BE n         length of the meta block
 *         12  meta             JSON (UTF-8), always JSON whatever the codec: small routing fields
 *       12+n  body             the codec's encoding of the payload
 *   [end-56]  signature        if signed: u64 BE time ms | 16-byte nonce | HMAC-SHA256 (chunk-signing.ts)
 *
 * Request meta  {mapId, chunk, start, count, memoryVersion, replyNumbers?, output?, indexes?, calls?}; body {fn, items}.
 * Responses: chunk-response.ts.
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
import { refuseClassInstances } from "./item-classes.js";
import { ItemSerializationError, WireFormatError } from "./errors.js";
import { isPackedNumbers } from "./packed-numbers.js";
import { ApartSerializer, type Framing } from "./split-payload.js";
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
/** Flag bit 3, both kinds: the body names the file holding the payload (payload-file.ts). */
export const FLAG_FILE = 8;
/**
 * Flags a reader of each kind knows. A node older than a flag refuses a request that carries it
 * (WireFormatError) rather than calling the function the wrong way.
 */
const KNOWN_FLAGS = {
  [1]: FLAG_SIGNED | FLAG_SPREAD | FLAG_SETTLE | FLAG_FILE,
  [2]: FLAG_SIGNED | FLAG_FILE,
} as Record<number, number>;
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
  /**
   * The items are calls of this function made with pool.submit or pool.apply (not a map's items): the node
   * names a line's writer as the pool names the call, `fn(5)` (call-text.ts), for log followers.
   */
  readonly calls?: string;
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

/**
 * Header, meta block and body in one buffer. The V8 body is serialized right
 * behind the meta block, so it is never copied, and room for a signature is
 * left at the end of its buffer (signChunkInPlace, chunk-signing.ts).
 *
 * With `apartBytes`, typed arrays of that many bytes or more stay where they
 * lie and the payload comes back in parts (split-payload.ts), never signed:
 * for a payload that goes through a file.
 */
export function frame<A extends number | undefined = undefined>(
  kind: Kind,
  codec: Codec,
  meta: object,
  value: unknown,
  flags = 0,
  apartBytes?: A,
): Framing<A> {
  const metaBytes = Buffer.from(JSON.stringify(meta));
  const head = writeHead(Buffer.allocUnsafe(HEADER), kind, codec, metaBytes.length, flags);
  if (codec === Codec.Json) return Buffer.concat([head, metaBytes, Buffer.from(JSON.stringify(value))]);
  const serialize = (serializer: v8.Serializer) => {
    serializer.writeRawBytes(head);
    serializer.writeRawBytes(metaBytes);
    serializer.writeHeader();
    serializer.writeValue(value);
  };
  if (apartBytes !== undefined) {
    try {
      const apart = new ApartSerializer(apartBytes);
      serialize(apart);
      return apart.finish() as Framing<A>;
    } catch {
      // Made in one buffer below, should a serializer refuse to go on after a release; a value's own error comes again.
    }
  }
  const serializer = new v8.DefaultSerializer();
  serialize(serializer);
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
export function numbersFrame(
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

export interface Framed {
  readonly codec: Codec;
  readonly flags: number;
  readonly meta: Record<string, unknown>;
  readonly bodyStart: number;
  readonly end: number;
}

/** The rest of the header checked and the meta block parsed. */
export function unframe(frame: ChunkFrame, expected: Kind): Framed {
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
export function decodeBody(codec: Codec, body: Buffer, what: string): any {
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
 * naming its index within the whole map (from `indexes` for a retry's part).
 */
export function encodeChunkRequest<A extends number | undefined = undefined>(
  request: Omit<ChunkRequest, "count" | "items"> & { readonly items: ArrayLike<unknown> },
  codec: Codec = Codec.V8,
  apartBytes?: A,
): Framing<A> {
  const meta: ChunkRequestMeta & { replyNumbers?: true } = {
    mapId: request.mapId,
    chunk: request.chunk,
    start: request.start,
    count: request.items.length,
    memoryVersion: request.memoryVersion,
    ...(request.output === false ? { output: false } : {}),
    ...(request.indexes ? { indexes: request.indexes } : {}),
    ...(request.calls !== undefined ? { calls: request.calls } : {}),
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
      ) as Framing<A>;
  } else if (codec === Codec.Numbers)
    throw new WireFormatError("chunk request: the numbers codec is chosen, not asked for");
  const items = Array.isArray(request.items) ? request.items : Array.from(request.items);
  refuseClassInstances(items, request.start, request.indexes);
  try {
    return frame(Kind.Request, codec, meta, { fn: request.fn, items }, flags, apartBytes);
  } catch (error) {
    for (let i = 0; i < items.length; i++) {
      try {
        encodeBody(codec, items[i]);
      } catch (itemError) {
        throw new ItemSerializationError(request.indexes?.[i] ?? request.start + i, itemError);
      }
    }
    throw error;
  }
}

/** A request's header and meta (its items are not decoded): from its bytes, or from the frame its signature was checked on. */
export function readChunkRequest(from: Uint8Array | ChunkFrame): ChunkRequestHead {
  const { codec, meta, flags, bodyStart, end } = unframe(
    from instanceof Uint8Array ? readFrame(from, "chunk request") : from,
    Kind.Request,
  );
  const { mapId, chunk, start, count, memoryVersion, replyNumbers, output, indexes, calls } = meta;
  if (
    typeof mapId !== "string" ||
    (output !== undefined && typeof output !== "boolean") ||
    (calls !== undefined && typeof calls !== "string") ||
    ![chunk, start, count, memoryVersion].every((n) => Number.isInteger(n) && (n as number) >= 0)
  ) {
    throw new WireFormatError(
      `chunk request: meta block lacks mapId, chunk, start, count or memoryVersion (or has a bad output or calls)`,
    );
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
    ...(calls !== undefined ? { calls } : {}),
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
  const { mapId, chunk, start, count, memoryVersion, replyNumbers, output, indexes, calls, spread, settle } = head;
  return {
    mapId,
    chunk,
    start,
    count,
    memoryVersion,
    ...(output === false ? { output } : {}),
    ...(indexes !== undefined ? { indexes } : {}),
    ...(calls !== undefined ? { calls } : {}),
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
