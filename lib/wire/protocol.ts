/**
 * What pools and worker nodes agree on besides the payload format: the
 * Gearman function chunks travel as, and how a node's refusal of a chunk is
 * written and read (docs/wire-format.md "Signed payloads").
 *
 * A node that refuses a chunk (a signature check failed) never runs it and
 * answers WORK_EXCEPTION with the UTF-8 text
 *
 *   glimpse-refused REASON: DETAIL
 *
 * where REASON is one of REFUSAL_REASONS and DETAIL says which node refused
 * what, for people. Any other exception payload is not a refusal.
 */
import { REFUSAL_REASONS, type RefusalReason } from "../security/errors.js";

/** The Gearman function every worker node registers and every pool submits its chunks to. */
export const MAP_FUNCTION = "glimpse_map";

/**
 * A node that takes a chunk says so at once, before it runs it, with
 * WORK_STATUS 0/N (N: the chunk's items). A pool counts these per Gearman
 * job: a second one means the job server handed the job out again after
 * losing the node that held it (docs/robustness.md "How many times a chunk runs").
 */
export const TAKEN_NUMERATOR = 0;

/**
 * A node that took a chunk but will not run it (it is draining and the chunk
 * was still waiting behind another, or it arrived after the node unregistered)
 * hands it back: WORK_EXCEPTION with the UTF-8 text
 *
 *   glimpse-handed-back: DETAIL
 *
 * The chunk never started on that node, so the pool submits it again at once
 * and spends none of its retries on it (docs/labels.md "Drain").
 */
const HAND_BACK_PREFIX = "glimpse-handed-back: ";
const HAND_BACK_BYTES = Buffer.from(HAND_BACK_PREFIX);

export function writeHandBack(detail: string): string {
  return `${HAND_BACK_PREFIX}${detail}`;
}

/** The detail of a hand-back, or undefined when the exception payload is something else. */
export function readHandBack(exception: Buffer): string | undefined {
  if (
    exception.length < HAND_BACK_BYTES.length ||
    exception.compare(HAND_BACK_BYTES, 0, HAND_BACK_BYTES.length, 0, HAND_BACK_BYTES.length) !== 0
  )
    return undefined;
  return exception.toString("utf8", HAND_BACK_BYTES.length);
}

const REFUSAL_PREFIX = "glimpse-refused ";
const PREFIX_BYTES = Buffer.from(REFUSAL_PREFIX);

export interface Refusal {
  readonly reason: RefusalReason;
  /** Who refused what, for people. */
  readonly detail: string;
}

/** The WORK_EXCEPTION text a node answers a refused chunk with. */
export function writeRefusal(refusal: Refusal): string {
  return `${REFUSAL_PREFIX}${refusal.reason}: ${refusal.detail}`;
}

/** The refusal a WORK_EXCEPTION payload carries; undefined when it is another exception (or names a reason this side does not know). */
export function readRefusal(exception: Buffer): Refusal | undefined {
  if (
    exception.length < PREFIX_BYTES.length ||
    exception.compare(PREFIX_BYTES, 0, PREFIX_BYTES.length, 0, PREFIX_BYTES.length) !== 0
  )
    return undefined;
  const text = exception.toString("utf8", PREFIX_BYTES.length);
  const colon = text.indexOf(": ");
  const reason = colon < 0 ? "" : text.slice(0, colon);
  if (!(REFUSAL_REASONS as readonly string[]).includes(reason)) return undefined;
  return { reason: reason as RefusalReason, detail: text.slice(colon + 2) };
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
