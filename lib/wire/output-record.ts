/**
 * A console line of a running chunk, sent by its node to the chunk's client as
 * WORK_DATA on the chunk's own job (docs/wire-format.md "Output records"):
 *
 *   UTF-8 JSON {"v": 1, "index", "stream", "text", "host", "pid"} [| 56-byte signature trailer]
 *
 * The job server passes a job's packets to its client in the order the node
 * sent them, so every line of a chunk arrives before its result, and none is
 * lost to a log channel that joined late. An empty WORK_DATA stays the
 * heartbeat (protocol.ts). On a signed cluster the trailer signs the record
 * with the "log" key, bound to the nonce of the request it belongs to, so a
 * record of one attempt never passes for another's.
 */
import type { ClusterKey } from "../security/cluster-key.js";
import { SIGNATURE_BYTES } from "../security/cluster-key.js";
import type { MessageGuard } from "../security/message-guard.js";
import { WireFormatError } from "./errors.js";

const VERSION = 1;

/** One console call of a chunk's function, as its client gets it. */
export interface OutputRecord {
  /** The item (its index within the whole map) whose function call wrote it. */
  readonly index: number;
  readonly stream: "stdout" | "stderr";
  /** What the call wrote, without its final newline. */
  readonly text: string;
  readonly host: string;
  readonly pid: number;
}

/** The WORK_DATA bytes of a line; signed with `key`, bound to the request's nonce, on a signed cluster. */
export function encodeOutputRecord(record: OutputRecord, key?: ClusterKey, requestNonce?: Uint8Array): Buffer {
  const { index, stream, text, host, pid } = record;
  const json = Buffer.from(JSON.stringify({ v: VERSION, index, stream, text, host, pid }));
  return key ? Buffer.concat([json, key.sign("log", [json], requestNonce)]) : json;
}

/**
 * The line in a WORK_DATA packet's bytes, checked (and, with a guard, its signature verified and admitted
 * once); throws WireFormatError or SignatureError naming `what`.
 */
export function decodeOutputRecord(
  bytes: Uint8Array,
  what: string,
  guard?: MessageGuard,
  requestNonce?: Uint8Array,
): OutputRecord {
  let json = bytes;
  if (guard) {
    const signed = bytes.length > SIGNATURE_BYTES;
    json = signed ? bytes.subarray(0, bytes.length - SIGNATURE_BYTES) : bytes;
    const trailer = signed ? bytes.subarray(bytes.length - SIGNATURE_BYTES) : undefined;
    guard.check("log", [json], trailer, what, requestNonce);
  }
  let value: Partial<OutputRecord> & { v?: unknown };
  try {
    value = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString("utf8"));
  } catch (error) {
    throw new WireFormatError(`${what}: an output record that is not JSON (${(error as Error).message})`);
  }
  const { v, index, stream, text, host, pid } = value ?? {};
  if (v !== VERSION) throw new WireFormatError(`${what}: output record version ${String(v)}, expected ${VERSION}`);
  if (
    !Number.isSafeInteger(index) ||
    (stream !== "stdout" && stream !== "stderr") ||
    typeof text !== "string" ||
    typeof host !== "string" ||
    !Number.isSafeInteger(pid)
  )
    throw new WireFormatError(`${what}: an output record lacks index, stream, text, host or pid`);
  return { index: index!, stream, text, host, pid: pid! };
}
