/**
 * Chunk responses in the glimpse_map wire format (its frame: chunk-codec.ts; docs/wire-format.md).
 *
 * Response meta {ok, host, pid, elapsedMs, index?, output?}; body {results, errors?} or {error}, the last with
 * the results computed before the failing item, if any ({error, results} or {error, numbers}).
 * A settled request's response is ok with each item's error in `errors` ({at, error}: its position).
 * Results that are all numbers go in the numbers codec when the request says `replyNumbers`.
 */
import type { SerializedError } from "./remote-error.js";
import { WireFormatError } from "./errors.js";
import { isPackedNumbers, packNumbers, unpackNumbers, type PackedNumbers } from "./packed-numbers.js";
import { numberElement, readNumbersBody, type NumberElement } from "./number-body.js";
import { Codec, Kind, decodeBody, frame, numbersFrame, readFrame, unframe } from "./chunk-codec.js";
import type { Framing } from "./split-payload.js";

/** What a chunk's function wrote with console: lines forwarded on the log channel, and lines its node's rate limit dropped. */
export interface OutputTally {
  readonly lines: number;
  readonly dropped: number;
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
 * Encodes a response in the codec its request allows: results that are all
 * numbers with the numbers codec when `replyNumbers` (the request's), else
 * (V8) packed as before it; JSON stays JSON. A request in the numbers codec
 * is answered in V8 when its results are not all numbers, and always on error.
 */
export function encodeChunkResponse<A extends number | undefined = undefined>(
  response: ChunkResponse,
  codec: Codec = Codec.V8,
  replyNumbers = false,
  /** Typed arrays of this many bytes or more are left where they lie (frame, chunk-codec.ts): a response that goes to a file. */
  apartBytes?: A,
): Framing<A> {
  const { host, pid, elapsedMs } = response;
  if (codec === Codec.Numbers) codec = Codec.V8;
  if (response.ok && !response.errors?.length && codec === Codec.V8 && replyNumbers) {
    const element = numberElement(response.results);
    if (element !== undefined)
      return encodeNumbersResponse(response.results as number[], element, response) as Framing<A>;
  }
  const output = response.output && { output: { lines: response.output.lines, dropped: response.output.dropped } };
  if (response.ok && response.errors?.length)
    return frame(
      Kind.Response,
      codec,
      { ok: true, host, pid, elapsedMs, ...output },
      { results: response.results, errors: response.errors },
      0,
      apartBytes,
    );
  if (response.ok)
    return frame(
      Kind.Response,
      codec,
      { ok: true, host, pid, elapsedMs, ...output },
      resultsBody(codec, response.results),
      0,
      apartBytes,
    );
  const computed = response.results && response.results.length > 0 ? resultsBody(codec, response.results) : {};
  return frame(
    Kind.Response,
    codec,
    { ok: false, host, pid, elapsedMs, index: response.index, ...output },
    { error: response.error, ...computed },
    0,
    apartBytes,
  );
}

/** A successful response whose results are all numbers (`element`: numberElement's), in the numbers codec. */
export function encodeNumbersResponse(results: ArrayLike<number>, element: NumberElement, where: ResponseMeta): Buffer {
  const { host, pid, elapsedMs, output } = where;
  const tally = output && { output: { lines: output.lines, dropped: output.dropped } };
  return numbersFrame(Kind.Response, { ok: true, host, pid, elapsedMs, ...tally }, element, undefined, results);
}

/** A response as decodeChunkResponseTyped reads it: the results of a success with no item errors may be a typed array. */
export type TypedChunkResponse =
  | Exclude<ChunkResponse, { ok: true }>
  | (ResponseMeta & {
      readonly ok: true;
      readonly results: unknown[] | PackedNumbers;
      readonly errors?: readonly ItemFailure[];
    });

export function decodeChunkResponse(bytes: Uint8Array): ChunkResponse {
  const response = decodeChunkResponseTyped(bytes);
  return response.ok && isPackedNumbers(response.results)
    ? { ...response, results: unpackNumbers(response.results) }
    : (response as ChunkResponse);
}

/**
 * decodeChunkResponse, except that the number results of a success stay the
 * typed array they arrived as (a view of `bytes` when aligned): a pool holding
 * many chunks' results (waiting for an earlier one, in order) keeps them off
 * the JavaScript heap, where arrays of them would survive young-generation
 * collections, and unpacks each when it is taken (asArrays, lib/pool/chunks.ts). Results with item errors (a
 * settled chunk's) and those computed before a failure are arrays.
 */
export function decodeChunkResponseTyped(bytes: Uint8Array): TypedChunkResponse {
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
    return { ...base, ok: true, results: readNumbersBody(frame.bytes, bodyStart, end, "chunk response").numbers };
  }
  const payload = decodeBody(codec, frame.bytes.subarray(bodyStart, end), "chunk response");
  if (meta.ok === true && payload?.errors === undefined && codec === Codec.V8 && isPackedNumbers(payload?.numbers))
    return { ...base, ok: true, results: payload.numbers };
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
