/**
 * Errors as they cross the wire: a worker reduces what its function threw to
 * data (both codecs can carry it); the pool rebuilds it as the RemoteCause of
 * a RemoteError (errors.ts).
 */

/** An error reduced to data. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  readonly cause?: SerializedError;
}

/** Name, message, stack, code and (up to 8 deep) causes of what was thrown. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error)) return { name: "Error", message: `a non-Error value was thrown: ${String(error)}` };
  const code = (error as { code?: unknown }).code;
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
    ...(error.cause !== undefined && depth < 8 ? { cause: serializeError(error.cause, depth + 1) } : {}),
  };
}
