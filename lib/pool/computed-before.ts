/**
 * The results a failed chunk's worker computed before the item that threw
 * (they come back with the error: lib/wire/chunk-codec.ts), kept beside the
 * RemoteError until the map's window yields them (window.ts `partial`), so
 * an imap gives every result before the failure, then rejects. Kept aside,
 * not on the error: an error that is logged or kept does not drag them along.
 */
const computed = new WeakMap<object, unknown[]>();

/** `error`, with the results computed before it remembered. */
export function withComputed<E extends object>(error: E, results: unknown[] | undefined): E {
  if (results && results.length > 0) computed.set(error, results);
  return error;
}

/** The results computed before `error`, if its chunk's worker sent any. */
export function computedBefore(error: unknown): unknown[] | undefined {
  return typeof error === "object" && error !== null ? computed.get(error) : undefined;
}
