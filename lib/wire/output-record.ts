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
 * record of one attempt never passes for another's (nor for a log-channel
 * record, which is bound to nothing).
 */
import type { ClusterKey } from "../security/cluster-key.js";
import { SIGNATURE_BYTES } from "../security/cluster-key.js";
import { SignatureError } from "../security/errors.js";
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
 * How a pool checks the records of one attempt of a signed chunk: the cluster's key, the nonce of the
 * attempt's request, and the nonces of the records it admitted. A record bound to another request fails
 * its signature, so a replay can only come from within the attempt: `seen` catches it, and needs no age
 * check nor the pool's replay guard, whose capacity a talkative map would otherwise share with responses.
 */
export interface RecordCheck {
  readonly key: ClusterKey;
  readonly requestNonce: Uint8Array | undefined;
  readonly seen: Set<string>;
}

/**
 * The line in a WORK_DATA packet's bytes, checked (and, with `check`, its signature verified and admitted
 * once); throws WireFormatError or SignatureError naming `what`.
 */
export function decodeOutputRecord(bytes: Uint8Array, what: string, check?: RecordCheck): OutputRecord {
  let json = bytes;
  if (check) {
    if (bytes.length <= SIGNATURE_BYTES) throw new SignatureError("unsigned", what);
    json = bytes.subarray(0, bytes.length - SIGNATURE_BYTES);
    const trailer = bytes.subarray(bytes.length - SIGNATURE_BYTES);
    const { nonce } = check.key.verify("log", [json], trailer, what, check.requestNonce);
    if (check.seen.has(nonce)) throw new SignatureError("replayed", what);
    check.seen.add(nonce);
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
