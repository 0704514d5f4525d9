/**
 * Every error the job server raises (bad options are ArgumentError, from
 * lib/argument-error.ts). Each carries a stable `code`; a PeerViolation's
 * code is also the code of the ERROR packet the peer is sent before its
 * connection is closed.
 */

export type JobServerErrorCode =
  | "QUEUE_FILE" // the journal file cannot be read, or is not a journal
  | "IN_PROCESS_CLOSED" // a write to an in-process socket whose other side is closed
  | "INVALID_COMMAND" // a peer sent a packet no client or worker may send (a PeerViolation)
  | "PROTOCOL_ERROR"; // a peer sent a packet without the arguments it needs (a PeerViolation)

export class JobServerError extends Error {
  override name = "JobServerError";
  constructor(
    readonly code: JobServerErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A peer broke the protocol in a way the server answers with ERROR `code` before closing the connection. */
export class PeerViolation extends JobServerError {
  override name = "PeerViolation";
}

/** A packet type no client or worker may send (a response type, or a number outside the protocol). */
export const unexpectedPacket = (name: string, peer: string): PeerViolation =>
  new PeerViolation("INVALID_COMMAND", `${peer}: unexpected packet ${name} from a client or worker`);

/** A request packet without the arguments it needs. */
export const missingArguments = (packet: string, needs: string, peer: string): PeerViolation =>
  new PeerViolation("PROTOCOL_ERROR", `${peer}: ${packet} needs ${needs}`);

/** The journal at `path` cannot be used; `problem` says why and where. */
export const queueFileError = (path: string, problem: string, cause?: unknown): JobServerError =>
  new JobServerError("QUEUE_FILE", `queue file ${path}: ${problem}`, cause === undefined ? undefined : { cause });

export const inProcessClosed = (): JobServerError =>
  new JobServerError("IN_PROCESS_CLOSED", "in-process socket: the other side is closed");
