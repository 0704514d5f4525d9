/**
 * The pool's side of payload files (lib/wire/payload-file.ts): a local cluster's directory, where a chunk's
 * large request is written before it is submitted and its large response read back. The files of an attempt
 * given up (timeout, lost node, retry, abort) are removed at once; those of a completed one are written over
 * by a later attempt while maps run, and removed when the last running map ends, however it ends. The
 * directory itself goes with the local cluster (close, exit, signal).
 *
 *   send(request or its parts) ──< FILE_PAYLOAD_BYTES or signed──► request itself (parts joined)
 *                 └─ else ──► DIR/pPID-N.req (the request; parts in one writev), DIR/pPID-N.res (empty) ──► reference frame
 *   receive(response) ──a reference──► DIR/….res read whole ──► the response bytes
 *   done(attempt) ──completed──► kept for the next request │ else removed
 *   mapEnded() ──no map running──► every file removed
 */
import fs from "node:fs";
import path from "node:path";
import { Kind } from "../wire/chunk-codec.js";
import { WireFormatError } from "../wire/errors.js";
import {
  FILE_PAYLOAD_BYTES,
  isFileReference,
  readFileReference,
  readPayloadFile,
  referenceFrame,
  writeBytesAt,
} from "../wire/payload-file.js";
import { SplitPayload } from "../wire/split-payload.js";

/** One attempt's pair of files: its request, and the room for its reply. */
export interface SentFiles {
  readonly request: string;
  readonly reply: string;
  /** The largest bytes either has held: a slot kept for reuse holds that much memory. */
  size: number;
}

/**
 * Slots kept for reuse, while maps run, once their attempt has completed, and the largest payload a kept
 * slot may have held: a file written over in place costs a copy; a new one first costs its pages (more
 * than the copy on this kind of machine), and removing it as much again.
 */
const KEPT_SLOTS = 16;
const KEPT_SLOT_BYTES = 4 * 1024 * 1024;

/**
 * Numbers the files of every PayloadFiles of the process, not of each: two pools on one directory never make the
 * same name (one's exclusive create failing would otherwise remove the other's files).
 */
let sequence = 0;

export class PayloadFiles {
  /** Pairs of files of completed attempts, to be written over by the next ones. */
  private readonly free: SentFiles[] = [];
  /** Pairs of files of attempts not over yet. */
  private readonly out = new Set<SentFiles>();
  /** Maps running: when the last one ends, every file goes. */
  private maps = 0;

  constructor(
    /** A directory of this user's alone (mode 0700), seen by every node of the cluster at the same path. */
    readonly directory: string,
    readonly threshold = FILE_PAYLOAD_BYTES,
  ) {}

  /**
   * The payload to submit for `request`: itself, or a reference to the file it was written to (with `files` to
   * give back). A file that cannot be written (a full tmpfs) sends the request inline, as a small one goes;
   * a request in parts (split-payload.ts) is then joined.
   */
  send(request: Buffer | SplitPayload, signed: boolean): { readonly payload: Buffer; readonly files?: SentFiles } {
    if (request instanceof SplitPayload) request.checkIntact();
    const inline = () => ({ payload: request instanceof SplitPayload ? request.join() : request });
    if (signed || request.length < this.threshold) return inline();
    let files = this.free.pop();
    try {
      if (files) writeAt(path.join(this.directory, files.request), request, fs.constants.O_WRONLY);
      else {
        const base = `p${process.pid}-${++sequence}`;
        files = { request: `${base}.req`, reply: `${base}.res`, size: 0 };
        writeAt(path.join(this.directory, files.request), request, NEW);
        writeAt(path.join(this.directory, files.reply), EMPTY, NEW);
      }
    } catch {
      if (files) this.release(files);
      return inline();
    }
    files.size = Math.max(files.size, request.length);
    this.out.add(files);
    return { payload: referenceFrame(request, files.request, files.reply), files };
  }

  /** The response `bytes` stand for: themselves, or the reply file's bytes when they are a reference (the file read whole). */
  receive(bytes: Buffer, sent: SentFiles | undefined, what: string): Buffer {
    if (!isFileReference(bytes)) return bytes;
    const ref = readFileReference(bytes, Kind.Response, what);
    // Only the file this attempt made for its reply is read: a response cannot point the pool at another.
    if (ref.file !== sent?.reply)
      throw new WireFormatError(`${what}: names payload file ${ref.file}, not ${sent?.reply ?? "one"} of this attempt`);
    sent.size = Math.max(sent.size, ref.size);
    return readPayloadFile(this.directory, ref, what);
  }

  /**
   * An attempt is over. Its files are kept for another only when it completed (its node answered, so it
   * reads and writes them no more) and there is room; else removed, so that a node still running an attempt
   * given up finds no file to write its reply into.
   */
  done(files: SentFiles, completed: boolean): void {
    if (!this.out.delete(files)) return; // removed already, when the last map ended
    if (completed && this.maps > 0 && files.size <= KEPT_SLOT_BYTES && this.free.length < KEPT_SLOTS)
      this.free.push(files);
    else this.release(files);
  }

  mapStarted(): void {
    this.maps++;
  }

  /**
   * When no map runs any more, no file is left: the kept ones, and those of attempts still being given up
   * (a failed or aborted map's other chunks), which nobody reads or writes for the pool again.
   */
  mapEnded(): void {
    if (--this.maps > 0) return;
    for (const files of [...this.free, ...this.out]) this.release(files);
    this.free.length = 0;
    this.out.clear();
  }

  private release(files: SentFiles): void {
    for (const name of [files.request, files.reply]) fs.rmSync(path.join(this.directory, name), { force: true });
  }
}

const EMPTY = Buffer.alloc(0);
const NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;

/** Writes `bytes` at the start of a file, leaving whatever follows them (readers read the size they are told). */
function writeAt(where: string, bytes: Buffer | SplitPayload, flags: number): void {
  const fd = fs.openSync(where, flags | fs.constants.O_NOFOLLOW, 0o600);
  try {
    writeBytesAt(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
}
