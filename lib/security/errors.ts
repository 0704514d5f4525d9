/** Why a signed message was refused. */
export type RefusalReason =
  /** The receiver has a cluster secret and the message carries no signature. */
  | "unsigned"
  /** The signature does not verify: another key, or altered bytes. */
  | "forged"
  /** Its time is outside the accepted window (too old, or too far in the future). */
  | "stale"
  /** Its nonce was already seen within the window. */
  | "replayed"
  /** The message is signed but the receiver has no cluster secret to check it with. */
  | "no-secret";

const EXPLAINED: Record<RefusalReason, string> = {
  unsigned: "it is not signed and this side has a cluster secret",
  forged: "its signature does not verify (a different cluster secret, or altered bytes)",
  stale: "its timestamp is outside the accepted window (a replay, a message queued too long, or clocks apart)",
  replayed: "it was already received once (a replay)",
  "no-secret": "it is signed but this side has no cluster secret to check it with",
};

/** A message was refused by signature checking; `reason` says which check failed. */
export class SignatureError extends Error {
  override name = "SignatureError";
  readonly code = "SIGNATURE";
  constructor(
    readonly reason: RefusalReason,
    what: string,
  ) {
    super(`${what} refused: ${EXPLAINED[reason]}`);
  }
}
