/**
 * The durable queue of background jobs: an append-only file of records.
 *
 *   record = u8 kind (1 add, 2 done) · u32 BE length · payload
 *   add    = id \0 func \0 unique \0 priority \0 epoch \0 reducer \0 data
 *   done   = id
 *
 * Records are held until commit() writes them together (one write(2)). The
 * job server commits once it has handled a read, before any reply to it
 * leaves (replies leave on the next tick), so JOB_CREATED is never sent for
 * a job the journal does not hold: a process killed at any point loses no
 * job it accepted. Records made outside a read (a worker lost, a timer) are
 * written on the next tick. write(2) puts the bytes in the OS page cache,
 * which survives the process but not a power loss; `fsync` adds an
 * fdatasync(2) per batch for that (a disk flush, typically 0.1-10 ms).
 *
 * At start the file is replayed (a torn last record is ignored) and
 * rewritten with only the live jobs; its owner rewrites it again (compact)
 * once finished records outnumber live ones twice over (and number over
 * 10,000): the journal keeps no job itself, so the owner hands it the live ones.
 */
import fs from "node:fs";
import { splitArgs } from "../gearman/packet.js";
import { queueFileError } from "./errors.js";
import { payloadString } from "./payload.js";
import type { Job } from "./scheduler-state.js";

/** A background job as the journal keeps it; strings are byte strings (latin1). */
export interface JournalEntry {
  readonly id: number;
  readonly func: string;
  readonly unique: string;
  readonly priority: number;
  readonly epoch: number;
  readonly reducer: string;
  readonly data: string;
}

/** A background job's record. */
export function journalEntry(job: Job): JournalEntry {
  return {
    id: job.id,
    func: job.queue.name,
    unique: job.unique,
    priority: job.priority,
    epoch: job.epoch,
    reducer: job.reducer,
    data: payloadString(job.data),
  };
}

const ADD = 1;
const DONE = 2;
const COMPACT_AFTER = 10_000;

function record(kind: number, parts: readonly string[]): Buffer {
  let length = parts.length - 1;
  for (const part of parts) length += part.length;
  const out = Buffer.allocUnsafe(5 + length);
  out[0] = kind;
  out.writeUInt32BE(length, 1);
  let at = 5;
  for (let i = 0; i < parts.length; i++) {
    if (i > 0) out[at++] = 0;
    at += out.write(parts[i], at, "latin1");
  }
  return out;
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at);
}

function addRecord(entry: JournalEntry): Buffer {
  return record(ADD, [
    String(entry.id),
    entry.func,
    entry.unique,
    String(entry.priority),
    String(entry.epoch),
    entry.reducer,
    entry.data,
  ]);
}

/** Reads a journal; returns the live entries in submission order. */
export function replayJournal(path: string): JournalEntry[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw queueFileError(path, `cannot read it: ${(error as Error).message}`, error);
  }
  const live = new Map<number, JournalEntry>();
  let at = 0;
  while (at + 5 <= bytes.length) {
    const kind = bytes[at];
    const length = bytes.readUInt32BE(at + 1);
    if (at + 5 + length > bytes.length) break; // torn last record
    const payload = bytes.subarray(at + 5, at + 5 + length);
    if (kind === ADD) {
      let parts: string[];
      try {
        parts = splitArgs(payload, 7, `record at byte ${at}`).map((part) => part.toString("latin1"));
      } catch (error) {
        throw queueFileError(path, `record at byte ${at} is not a job record (${(error as Error).message})`, error);
      }
      const id = Number(parts[0]);
      if (!Number.isSafeInteger(id) || id <= 0)
        throw queueFileError(path, `record at byte ${at} has a bad job id "${parts[0]}"`);
      live.set(id, {
        id,
        func: parts[1],
        unique: parts[2],
        priority: Number(parts[3]) & 3,
        epoch: Number(parts[4]) || 0,
        reducer: parts[5],
        data: parts[6],
      });
    } else if (kind === DONE) {
      live.delete(Number(payload.toString("latin1")));
    } else {
      throw queueFileError(path, `unknown record kind ${kind} at byte ${at} (not a glimpse-cluster journal?)`);
    }
    at += 5 + length;
  }
  return [...live.values()];
}

export class Journal {
  private fd: number;
  private live = 0;
  private finished = 0;
  private pending: Buffer[] = [];
  private scheduled = false;

  /** Opens (creating or rewriting) the journal with `entries` as its live content. */
  constructor(
    private readonly path: string,
    entries: readonly JournalEntry[],
    private readonly fsync: boolean,
  ) {
    this.fd = this.rewrite(entries);
  }

  private rewrite(entries: Iterable<JournalEntry>): number {
    const temporary = `${this.path}.compact`;
    const fd = fs.openSync(temporary, "w");
    let batch: Buffer[] = [];
    let size = 0;
    let count = 0;
    for (const entry of entries) {
      const bytes = addRecord(entry);
      batch.push(bytes);
      size += bytes.length;
      count++;
      if (size > 1 << 20) {
        writeAll(fd, Buffer.concat(batch, size));
        batch = [];
        size = 0;
      }
    }
    if (size > 0) writeAll(fd, Buffer.concat(batch, size));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(temporary, this.path);
    this.live = count;
    this.finished = 0;
    return fs.openSync(this.path, "a");
  }

  /** Records an accepted background job (written at the next commit, before any reply). */
  add(entry: JournalEntry): void {
    this.push(addRecord(entry));
    this.live++;
  }

  /** Records that a background job finished, failed or was cancelled. */
  done(id: number): void {
    this.push(record(DONE, [String(id)]));
    this.live--;
    this.finished++;
  }

  private push(bytes: Buffer): void {
    this.pending.push(bytes);
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(commitJournal, this);
    }
  }

  /** Writes every pending record (and fsyncs if asked). */
  commit(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const bytes = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    writeAll(this.fd, bytes);
    if (this.fsync) fs.fdatasyncSync(this.fd);
  }

  /** Finished records outnumber live ones twice over (and number over 10,000): time to compact(). */
  get crowded(): boolean {
    return this.finished > COMPACT_AFTER && this.finished > this.live * 2;
  }

  /** Rewrites the file with only `entries`, every live job (after a commit: nothing may be pending). */
  compact(entries: Iterable<JournalEntry>): void {
    fs.closeSync(this.fd);
    this.fd = this.rewrite(entries);
  }

  close(): void {
    this.commit();
    fs.closeSync(this.fd);
  }
}

function commitJournal(journal: Journal): void {
  journal.commit();
}
