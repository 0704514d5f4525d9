/**
 * The durable queue of background jobs: an append-only file of records.
 *
 *   record = u8 kind (1 add, 2 done) · u32 BE length · payload
 *   add    = handle \0 func \0 unique \0 priority \0 epoch \0 data
 *   done   = handle
 *
 * An add is written (write(2) to the OS, fsync optional) before the server
 * answers JOB_CREATED, so a process killed at any point loses no job it
 * accepted. At start the file is replayed (a torn last record is ignored) and
 * rewritten with only the live jobs; it is compacted again once finished
 * records outnumber live ones.
 */
import fs from "node:fs";
import { splitArgs } from "../gearman/packet.js";

export interface JournalEntry {
  readonly handle: string;
  readonly func: string;
  readonly unique: string;
  readonly priority: number;
  readonly epoch: number;
  readonly data: Buffer;
}

const ADD = 1;
const DONE = 2;

function record(kind: number, parts: (string | Buffer)[]): Buffer {
  const payload = Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [toBuf(p)] : [Buffer.from([0]), toBuf(p)])));
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = kind;
  out.writeUInt32BE(payload.length, 1);
  payload.copy(out, 5);
  return out;
}

function toBuf(part: string | Buffer): Buffer {
  return typeof part === "string" ? Buffer.from(part) : part;
}

function addRecord(entry: JournalEntry): Buffer {
  return record(ADD, [entry.handle, entry.func, entry.unique, String(entry.priority), String(entry.epoch), entry.data]);
}

/** Reads a journal; returns the live entries in submission order. */
export function replayJournal(path: string): JournalEntry[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const live = new Map<string, JournalEntry>();
  let at = 0;
  while (at + 5 <= bytes.length) {
    const kind = bytes[at];
    const length = bytes.readUInt32BE(at + 1);
    if (at + 5 + length > bytes.length) break; // torn last record
    const payload = bytes.subarray(at + 5, at + 5 + length);
    at += 5 + length;
    if (kind === ADD) {
      const [handle, func, unique, priority, epoch, data] = splitArgs(payload, 6, "journal record");
      live.set(handle.toString(), {
        handle: handle.toString(),
        func: func.toString(),
        unique: unique.toString(),
        priority: Number(priority.toString()),
        epoch: Number(epoch.toString()),
        data: Buffer.from(data),
      });
    } else if (kind === DONE) {
      live.delete(payload.toString());
    } else {
      throw new Error(`journal ${path}: unknown record kind ${kind} at byte ${at - 5 - length}`);
    }
  }
  return [...live.values()];
}

export class Journal {
  private fd: number;
  private live = 0;
  private finished = 0;

  /** Opens (creating or rewriting) the journal with `entries` as its live content. */
  constructor(
    private readonly path: string,
    entries: readonly JournalEntry[],
    private readonly fsync: boolean,
  ) {
    this.fd = this.rewrite(entries);
    this.live = entries.length;
  }

  private rewrite(entries: readonly JournalEntry[]): number {
    const temporary = `${this.path}.compact`;
    const fd = fs.openSync(temporary, "w");
    for (const entry of entries) fs.writeSync(fd, addRecord(entry));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temporary, this.path);
    this.finished = 0;
    return fs.openSync(this.path, "a");
  }

  add(entry: JournalEntry): void {
    fs.writeSync(this.fd, addRecord(entry));
    if (this.fsync) fs.fdatasyncSync(this.fd);
    this.live++;
  }

  done(handle: string, liveEntries: () => JournalEntry[]): void {
    fs.writeSync(this.fd, record(DONE, [handle]));
    this.live--;
    this.finished++;
    if (this.finished > 10_000 && this.finished > this.live * 2) {
      fs.closeSync(this.fd);
      this.fd = this.rewrite(liveEntries());
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}
