/** A peer broke the protocol in a way the server answers with ERROR `replyCode` before closing the connection. */
export class PeerViolation extends Error {
  constructor(
    readonly replyCode: string,
    message: string,
  ) {
    super(message);
    this.name = "PeerViolation";
  }
}

/** A packet type no client or worker may send (a response type, or a number outside the protocol). */
export const unexpectedPacket = (name: string, peer: string): PeerViolation =>
  new PeerViolation("INVALID_COMMAND", `${peer}: unexpected packet ${name} from a client or worker`);
