/**
 * What pools and worker nodes agree on besides the payload format: the
 * Gearman function chunks travel as, and what a node tells a chunk's client
 * besides its result (docs/wire-format.md "Take notice", "Hand back",
 * "Signed payloads"):
 *
 *   taken        WORK_STATUS 0/N (N: the chunk's items), written before the chunk can run
 *   handed back  WORK_EXCEPTION "glimpse-handed-back: DETAIL"    the chunk never ran here
 *   refused      WORK_EXCEPTION "glimpse-refused REASON: DETAIL"  a signature check failed; it never ran
 *   too large    WORK_EXCEPTION "glimpse-too-large: DETAIL"     it ran, but its results exceed max_packet_size
 *   heartbeat    WORK_DATA with no data, every CHUNK_HEARTBEAT_MS  it still holds the chunk
 *   output       WORK_DATA with an output record (output-record.ts)   a console line of the chunk's function
 *
 * Nodes answer with answerTaken, answerHandBack, answerRefusal and
 * answerTooLarge; pools read WORK_STATUS by TAKEN_NUMERATOR and an
 * exception by readNodeException (or readHandBack, readRefusal). No other file knows these texts. DETAIL
 * says which node did what, for people, and is never decoded further.
 */
import type { WorkerJob } from "../gearman/worker-job.js";
import { REFUSAL_REASONS, type RefusalReason } from "../security/errors.js";

/**
 * The rate at which a worker node forwards its functions' console output (lib/node/output-bucket.ts): lines a
 * second once a burst is spent. Pools say it when they report dropped lines.
 */
export const OUTPUT_LINES_PER_SECOND = 200;
/**
 * Lines a node forwards at once before the rate applies: well under the log channel's queues (ZeroMQ's
 * high-water mark, 1000 messages a subscriber at the broker), so a burst never crowds out acknowledgements.
 */
export const OUTPUT_BURST = 500;

/** The Gearman function every worker node registers and every pool submits its chunks to. */
export const MAP_FUNCTION = "glimpse_map";

/**
 * A node that takes a chunk says so at once, before it runs it, with
 * WORK_STATUS 0/N. A pool counts these per Gearman job: a second one means
 * the job server handed the job out again after losing the node that held it
 * (docs/robustness.md "How many times a chunk runs").
 */
export const TAKEN_NUMERATOR = 0;

/**
 * A node that took a chunk but will not run it (it is draining and the chunk
 * was still waiting behind another, or it arrived after the node unregistered)
 * hands it back. The pool submits it again at once and spends none of its
 * retries on it (docs/labels.md "Drain").
 */
const HAND_BACK = "glimpse-handed-back: ";
/** A node refuses a chunk whose signature check failed, naming one of REFUSAL_REASONS. */
const REFUSED = "glimpse-refused ";
/** A node whose response would not fit in a packet says so instead of sending it: another run would make the same. */
const TOO_LARGE = "glimpse-too-large: ";
const HAND_BACK_BYTES = Buffer.from(HAND_BACK);
const REFUSED_BYTES = Buffer.from(REFUSED);
const TOO_LARGE_BYTES = Buffer.from(TOO_LARGE);

export interface Refusal {
  readonly reason: RefusalReason;
  /** Who refused what, for people. */
  readonly detail: string;
}

/** What a node's WORK_EXCEPTION says when it is not the function's own failure. */
export type NodeException =
  | { readonly kind: "handed-back"; readonly detail: string }
  | { readonly kind: "too-large"; readonly detail: string }
  | ({ readonly kind: "refused" } & Refusal);

/** What a node needs of a chunk's job to answer it. */
export type ChunkJob = Pick<WorkerJob, "sendStatus" | "exception">;

/** Tells the chunk's client this node took it (`items`: the chunk's item count). */
export function answerTaken(job: ChunkJob, items: number): void {
  job.sendStatus(TAKEN_NUMERATOR, items);
}

/** Gives an unstarted chunk back to its client. */
export function answerHandBack(job: ChunkJob, detail: string): void {
  job.exception(writeHandBack(detail));
}

/** Refuses a chunk that will never run here. */
export function answerRefusal(job: ChunkJob, refusal: Refusal): void {
  job.exception(writeRefusal(refusal));
}

/** Tells the chunk's client its results are too large to send (`detail`: which, and how large). */
export function answerTooLarge(job: ChunkJob, detail: string): void {
  job.exception(writeTooLarge(detail));
}

/** The WORK_EXCEPTION text of a too-large answer. */
export function writeTooLarge(detail: string): string {
  return `${TOO_LARGE}${detail}`;
}

/** The WORK_EXCEPTION text of a hand-back. */
export function writeHandBack(detail: string): string {
  return `${HAND_BACK}${detail}`;
}

/** The WORK_EXCEPTION text of a refusal. */
export function writeRefusal(refusal: Refusal): string {
  return `${REFUSED}${refusal.reason}: ${refusal.detail}`;
}

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.length >= prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0;
}

/**
 * What a WORK_EXCEPTION payload says: a hand-back, a refusal, or undefined
 * for any other exception (and for a refusal naming a reason this side does
 * not know).
 */
export function readNodeException(exception: Buffer): NodeException | undefined {
  if (startsWith(exception, HAND_BACK_BYTES))
    return { kind: "handed-back", detail: exception.toString("utf8", HAND_BACK_BYTES.length) };
  if (startsWith(exception, TOO_LARGE_BYTES))
    return { kind: "too-large", detail: exception.toString("utf8", TOO_LARGE_BYTES.length) };
  if (!startsWith(exception, REFUSED_BYTES)) return undefined;
  const text = exception.toString("utf8", REFUSED_BYTES.length);
  const colon = text.indexOf(": ");
  const reason = colon < 0 ? "" : text.slice(0, colon);
  if (!(REFUSAL_REASONS as readonly string[]).includes(reason)) return undefined;
  return { kind: "refused", reason: reason as RefusalReason, detail: text.slice(colon + 2) };
}

/** The detail of a hand-back, or undefined when the exception says something else. */
export function readHandBack(exception: Buffer): string | undefined {
  const said = readNodeException(exception);
  return said?.kind === "handed-back" ? said.detail : undefined;
}

/** The detail of a too-large answer, or undefined when the exception says something else. */
export function readTooLarge(exception: Buffer): string | undefined {
  const said = readNodeException(exception);
  return said?.kind === "too-large" ? said.detail : undefined;
}

/** The refusal an exception carries, or undefined when it says something else. */
export function readRefusal(exception: Buffer): Refusal | undefined {
  const said = readNodeException(exception);
  return said?.kind === "refused" ? { reason: said.reason, detail: said.detail } : undefined;
}

/**
 * A node that holds a chunk (running it, or waiting behind another on its thread) says so at least
 * every CHUNK_HEARTBEAT_MS once it has held it that long: WORK_DATA with no data (GearmanWorker's
 * heartbeatMs). A pool that hears nothing of a taken chunk for CHUNK_SILENT_MS takes its node for lost
 * (cut off, hung: no job server may ever notice, gearmand least of all) and runs the chunk again, at
 * the cost of a retry (docs/robustness.md "Liveness").
 */
export const CHUNK_HEARTBEAT_MS = 2000;
export const CHUNK_SILENT_MS = 10_000;
