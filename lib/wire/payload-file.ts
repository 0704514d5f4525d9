/**
 * Large payloads beside Gearman, for a cluster whose pool and nodes share a host and a private directory
 * (the local cluster MakePool() starts). A megabyte relayed through the job server is read in 64 KB
 * pieces and assembled on every hop, each piece a fresh buffer; written to a file in that directory and
 * read back whole, it is one copy in and one copy out.
 *
 *   pool: request ≥ FILE_PAYLOAD_BYTES ──write──► DIR/NAME.req (and an empty DIR/NAME.res, the reply's room)
 *         ──Gearman──► reference frame {file, size, reply}
 *   node's thread: DIR/NAME.req ──one read──► request ──run──► response ≥ FILE_PAYLOAD_BYTES
 *         ──write into DIR/NAME.res──► reference frame {file, size} ──Gearman──► pool: one read, then removed
 *
 * A reference frame (docs/wire-format.md, "Payload files") is the payload's own header and meta block with flag
 * bit 3 set, its body JSON naming the file. The file holds the payload whole, as it would travel, bit 3 clear.
 * Never signed: a cluster that signs crosses hosts, and nodes elsewhere cannot see the files.
 *
 * The reply file is made by the pool, so a node only ever writes into a file that exists: once the pool has
 * given an attempt up and removed its files, a late node finds none (ENOENT) and its answer goes inline, to be
 * dropped; no file is made that nobody removes.
 */
import fs from "node:fs";
import path from "node:path";
import { FLAG_FILE, FLAG_SIGNED, HEADER, readFrame, unframe, type Kind } from "./chunk-codec.js";
import { WireFormatError } from "./errors.js";
import { SplitPayload } from "./split-payload.js";

/** Payloads this large or larger go through a file when the cluster has a payload directory. */
export const FILE_PAYLOAD_BYTES = 256 * 1024;

export interface FileReference {
  /** The file holding the payload, a plain name in the cluster's payload directory. */
  readonly file: string;
  /** Its length in bytes. */
  readonly size: number;
  /** Requests: the empty file a large response is written into. */
  readonly reply?: string;
}

/** A plain file name: no directory part, nothing hidden. */
const NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/** Whether these payload bytes are a reference frame (bit 3 of an unsigned frame of ours). */
export function isFileReference(bytes: Uint8Array): boolean {
  return (
    bytes.length >= HEADER &&
    bytes[0] === 0x47 && // "GLMP"
    bytes[1] === 0x4c &&
    bytes[2] === 0x4d &&
    bytes[3] === 0x50 &&
    (bytes[7] & (FLAG_FILE | FLAG_SIGNED)) === FLAG_FILE
  );
}

/** The reference frame standing for `payload` (an unsigned frame of ours), its bytes in `file`. */
export function referenceFrame(payload: Buffer | SplitPayload, file: string, reply?: string): Buffer {
  const head = payload instanceof SplitPayload ? payload.head : payload;
  const metaEnd = HEADER + head.readUInt32BE(8);
  const body = Buffer.from(JSON.stringify({ file, size: payload.length, ...(reply ? { reply } : {}) }));
  const out = Buffer.allocUnsafe(metaEnd + body.length);
  head.copy(out, 0, 0, metaEnd);
  out[7] |= FLAG_FILE;
  body.copy(out, metaEnd);
  return out;
}

/** The file a reference frame names, checked: plain names, a whole size. */
export function readFileReference(bytes: Uint8Array, kind: Kind, what: string): FileReference {
  const framed = unframe(readFrame(bytes, what), kind);
  if ((framed.flags & FLAG_SIGNED) !== 0)
    throw new WireFormatError(`${what}: a payload file reference is never signed`);
  let ref: Partial<FileReference>;
  try {
    ref = JSON.parse(
      Buffer.from(bytes.buffer, bytes.byteOffset + framed.bodyStart, framed.end - framed.bodyStart).toString(),
    );
  } catch (error) {
    throw new WireFormatError(`${what}: payload file reference is not JSON (${(error as Error).message})`);
  }
  const { file, size, reply } = ref ?? {};
  if (typeof file !== "string" || !NAME.test(file) || !Number.isInteger(size) || (size as number) < HEADER)
    throw new WireFormatError(`${what}: payload file reference lacks a plain file name or its size`);
  if (reply !== undefined && (typeof reply !== "string" || !NAME.test(reply)))
    throw new WireFormatError(`${what}: payload file reference names a reply file that is no plain file name`);
  return { file, size: size as number, ...(reply ? { reply } : {}) };
}

/** Reads a payload file whole into one buffer of its own; a missing or short file throws naming `what` and the path. */
export function readPayloadFile(directory: string, ref: FileReference, what: string): Buffer {
  const where = path.join(directory, ref.file);
  let fd: number;
  try {
    fd = fs.openSync(where, "r");
  } catch (error) {
    throw new WireFormatError(`${what}: its payload file ${where} cannot be opened (${(error as Error).message})`);
  }
  try {
    // Checked before a buffer of that size is taken: a reference may claim any size.
    const held = fs.fstatSync(fd).size;
    if (held < ref.size) throw shortFile(what, where, held, ref.size);
    const out = Buffer.allocUnsafeSlow(ref.size);
    let read = 0;
    while (read < ref.size) {
      const n = fs.readSync(fd, out, read, ref.size - read, read);
      if (n === 0) break;
      read += n;
    }
    if (read !== ref.size) throw shortFile(what, where, read, ref.size);
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

function shortFile(what: string, where: string, held: number, size: number): WireFormatError {
  return new WireFormatError(`${what}: its payload file ${where} holds ${held} bytes, the reference says ${size}`);
}

/**
 * Writes `bytes` into the existing file `name` (never creates one), when the file `owner` still begins with
 * `head` (the request it answers: a reply file is written only while its request is still the one in its slot;
 * the pool writes a later chunk's request over it once this attempt is over). False when it cannot: either
 * file is gone (the pool gave the attempt up), the slot holds another chunk, or the directory is full; the
 * caller then answers inline, to be dropped. The check and the write are two steps: a slot written over
 * between them is not seen, which takes an attempt the pool completed without this node, i.e. another node
 * that ran the same attempt and answered first.
 */
export function writeIntoPayloadFile(
  directory: string,
  name: string,
  bytes: Uint8Array | SplitPayload,
  owner?: { readonly file: string; readonly head: Uint8Array },
): boolean {
  if (owner && !fileBegins(path.join(directory, owner.file), owner.head)) return false;
  let fd: number | undefined;
  try {
    fd = fs.openSync(path.join(directory, name), fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    writeBytesAt(fd, bytes);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Whether the file at `where` begins with `head`. */
function fileBegins(where: string, head: Uint8Array): boolean {
  let fd: number | undefined;
  try {
    fd = fs.openSync(where, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const found = Buffer.allocUnsafe(head.byteLength);
    return fs.readSync(fd, found, 0, found.length, 0) === found.length && found.equals(head);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `bytes` at the start of the open file `fd`, the parts of a split payload in one writev where the kernel takes them whole. */
export function writeBytesAt(fd: number, bytes: Uint8Array | SplitPayload): void {
  const parts = bytes instanceof SplitPayload ? bytes.parts : [bytes];
  let position = 0;
  for (let i = 0; i < parts.length;) {
    let written = fs.writevSync(fd, parts.slice(i) as NodeJS.ArrayBufferView[], position);
    position += written;
    // A short write: skip the parts written whole, then finish the one it stopped in.
    while (i < parts.length && written >= parts[i].byteLength) written -= parts[i++].byteLength;
    if (written > 0) {
      const rest = parts[i];
      let done = written;
      while (done < rest.byteLength) {
        const n = fs.writeSync(fd, rest, done, rest.byteLength - done, position);
        done += n;
        position += n;
      }
      i++;
    }
  }
}
