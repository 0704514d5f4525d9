export { ClusterKey, SIGNATURE_BYTES, MIN_SECRET_BYTES, nonceOf, type SignedKind, type SignatureFacts } from "./cluster-key.js";
export { ReplayGuard, type ReplayGuardOptions } from "./replay-guard.js";
export { MessageGuard } from "./message-guard.js";
export { SignatureError, type RefusalReason } from "./errors.js";
export { applyCurve, releaseCurve, newCurveKeys, z85Decode, type CurveKeys, type CurveSettings } from "./curve.js";
