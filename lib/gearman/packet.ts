/**
 * Binary packet framing: a 12-byte header (`\0REQ` or `\0RES`, u32 BE type,
 * u32 BE size) followed by `size` bytes of NUL-separated arguments.
 */
import { PACKET_SPECS, packetName, type PacketArgs, type PacketArgsInput, type PacketName } from "./packet-types.js";
import { protocolError } from "./errors.js";
import { ArgumentError } from "../argument-error.js";
import { LARGE_PAYLOAD_BYTES } from "../bytes.js";
import { handleBytes, handleText } from "./job-handle.js";

export type Magic = "REQ" | "RES";

export const HEADER_SIZE = 12;
/** Default maximum size of one packet's data: 64 MiB. */
export const DEFAULT_MAX_PACKET_SIZE = 64 * 1024 * 1024;

const MAGIC_REQ = 0x00524551; // "\0REQ"
const MAGIC_RES = 0x00524553; // "\0RES"

export function magicNumber(magic: Magic): number {
  return magic === "REQ" ? MAGIC_REQ : MAGIC_RES;
}

export function magicOf(value: number): Magic | undefined {
  return value === MAGIC_REQ ? "REQ" : value === MAGIC_RES ? "RES" : undefined;
}

const EMPTY = Buffer.alloc(0);

type Part = Buffer | Uint8Array | string | number;

function partLength(part: Part): number {
  if (typeof part === "string") return Buffer.byteLength(part);
  if (typeof part === "number") return String(part).length;
  return part.byteLength;
}

/** Encodes a packet of numeric `type` from argument parts, joined with NUL bytes. */
export function encodeRaw(magic: Magic, type: number, parts: readonly Part[]): Buffer {
  let size = parts.length > 0 ? parts.length - 1 : 0;
  for (const part of parts) size += partLength(part);
  const out = Buffer.allocUnsafe(HEADER_SIZE + size);
  out.writeUInt32BE(magicNumber(magic), 0);
  out.writeUInt32BE(type, 4);
  out.writeUInt32BE(size, 8);
  let at = HEADER_SIZE;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = 0;
    const part = parts[i];
    if (typeof part === "string") at += out.write(part, at);
    else if (typeof part === "number") at += out.write(String(part), at, "latin1");
    else {
      out.set(part, at);
      at += part.byteLength;
    }
  }
  return out;
}

/**
 * encodeRaw as buffers to write one after the other: a last part of
 * LARGE_PAYLOAD_BYTES (lib/bytes.ts) or more is not copied but follows the packet's
 * head as its own buffer (written with it in one writev). The caller must
 * not change that part until it is written.
 */
export function encodeRawParts(magic: Magic, type: number, parts: readonly Part[]): Buffer[] {
  const last = parts[parts.length - 1];
  if (typeof last !== "object" || last.byteLength < LARGE_PAYLOAD_BYTES) return [encodeRaw(magic, type, parts)];
  const head = encodeRaw(magic, type, [...parts.slice(0, -1), EMPTY]);
  head.writeUInt32BE(head.length - HEADER_SIZE + last.byteLength, 8);
  return [head, Buffer.isBuffer(last) ? last : Buffer.from(last.buffer, last.byteOffset, last.byteLength)];
}

/** Encodes packet `name` with its named arguments, e.g. `encodePacket("REQ", "SUBMIT_JOB", { func, unique, data })`. */
export function encodePacket<N extends PacketName>(magic: Magic, name: N, args: PacketArgsInput<N>): Buffer {
  const spec = PACKET_SPECS[name];
  const values = args as Record<string, Part>;
  const parts: Part[] = spec.args.map((arg) => {
    const value = values[arg];
    if (value === undefined) throw new ArgumentError(`${name} argument ${arg}`, "missing");
    // A handle goes back as the bytes it came as (job-handle.ts); other text is UTF-8.
    return arg === "handle" && typeof value === "string" ? handleBytes(value) : value;
  });
  for (let i = 0; i < parts.length - 1; i++) {
    const part = parts[i];
    if (typeof part === "string" ? part.includes("\0") : typeof part !== "number" && part.includes(0)) {
      throw new ArgumentError(`${name} argument ${spec.args[i]}`, "must not contain a NUL byte");
    }
  }
  return encodeRaw(magic, spec.code, parts);
}

/**
 * Splits a packet body into `count` arguments; the last one takes the rest of
 * the data (NUL bytes included). Fewer separators than needed is an error.
 */
export function splitArgs(body: Buffer, count: number, what = "packet"): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < count - 1; i++) {
    const nul = body.indexOf(0, start);
    if (nul < 0) throw protocolError(`${what} needs ${count} arguments but has ${i + 1}`);
    out.push(body.subarray(start, nul));
    start = nul + 1;
  }
  if (count > 0) out.push(body.subarray(start));
  return out;
}

/** Decodes the named arguments of packet `name` from its body. */
export function decodeArgs<N extends PacketName>(name: N, body: Buffer): PacketArgs<N> {
  const names = PACKET_SPECS[name].args as readonly string[];
  const parts = splitArgs(body, names.length, name);
  const out: Record<string, string | Buffer> = {};
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    out[name] = name === "data" ? parts[i] : name === "handle" ? handleText(parts[i]) : parts[i].toString("utf8");
  }
  return out as PacketArgs<N>;
}

/** A decoded binary packet. `body` is a view into the received bytes: copy it to keep it past the callback. */
export class Packet {
  constructor(
    readonly magic: Magic,
    readonly type: number,
    readonly body: Buffer,
    /** Whether `body` lies right after the packet's header in the same memory (FrameDecoder's packets): see `frame`. */
    private readonly framed = false,
    /**
     * Whether the memory under `body` is this receiver's alone: bytes the decoder assembled itself, or a
     * read from a stream whose reads are fresh buffers (TCP, TLS). A receiver may then keep a view of it
     * instead of a copy (keepPayload, payload.ts).
     */
    readonly exclusive = false,
  ) {}

  /** The packet's name, or `UNKNOWN_<n>` for a number outside the protocol. */
  get name(): string {
    return packetName(this.type) ?? `UNKNOWN_${this.type}`;
  }

  /**
   * The received bytes of the whole packet, header and body, for passing a packet on without copying it;
   * made when asked for (most packets are never passed on whole).
   */
  get frame(): Buffer | undefined {
    const body = this.body;
    return this.framed ? Buffer.from(body.buffer, body.byteOffset - HEADER_SIZE, body.length + HEADER_SIZE) : undefined;
  }

  /** Decodes the arguments as packet `name` (which should match `type`). */
  args<N extends PacketName>(name: N): PacketArgs<N> {
    return decodeArgs(name, this.body);
  }

  /** The full wire form of this packet. */
  encode(): Buffer {
    return encodeRaw(this.magic, this.type, [this.body]);
  }
}
