/** The security layer's public part: the cluster's CURVE keys, and the error a refused signed message raises. */
export { SignatureError, REFUSAL_REASONS, type RefusalReason } from "./errors.js";
export { newCurveKeys, type CurveKeys, type CurveSettings } from "./curve.js";
