/**
 * The receiving side of signing: verifies a signature and admits each signed
 * message once (ReplayGuard). One per receiver (a worker node, a client's
 * log subscriber): replays are caught per receiver.
 */
import { ClusterKey, type SignatureFacts, type SignedKind } from "./cluster-key.js";
import { ReplayGuard, type ReplayGuardOptions } from "./replay-guard.js";
import { SignatureError } from "./errors.js";

export class MessageGuard {
  private readonly replays: ReplayGuard;

  constructor(
    readonly key: ClusterKey,
    options: ReplayGuardOptions = {},
  ) {
    this.replays = new ReplayGuard(options);
  }

  /** Verifies, then admits once. Throws SignatureError naming `what` and the failed check. */
  check(
    kind: SignedKind,
    parts: readonly Uint8Array[],
    trailer: Uint8Array | undefined,
    what: string,
    context?: Uint8Array,
  ): SignatureFacts {
    if (!trailer) throw new SignatureError("unsigned", what);
    const facts = this.key.verify(kind, parts, trailer, what, context);
    const refused = this.replays.admit(facts.nonce, facts.time);
    if (refused) throw new SignatureError(refused, what);
    return facts;
  }
}
