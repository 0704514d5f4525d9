/** Every error the security layer raises besides bad arguments (ArgumentError): a signed message refused, and why. */

/**
 * Why a signed message was refused, one code per failed check:
 *  - unsigned: the receiver has a cluster secret and the message carries no signature;
 *  - forged: the signature does not verify (another key, or altered bytes);
 *  - stale: its time is outside the accepted window (too old, or too far in the future);
 *  - replayed: its nonce was already seen within the window;
 *  - no-secret: the message is signed but the receiver has no cluster secret to check it with.
 */
export const REFUSAL_REASONS = Object.freeze(["unsigned", "forged", "stale", "replayed", "no-secret"] as const);
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

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
