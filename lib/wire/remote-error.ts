/**
 * Errors as they cross the wire: a worker reduces what its function threw to
 * data (both codecs can carry it); the pool rebuilds it as the RemoteCause of
 * a RemoteError (errors.ts).
 */
import { inspect } from "node:util";

/** An error reduced to data. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  readonly cause?: SerializedError;
}

/** How much of a thrown non-Error value its message shows: enough to recognise it, never a whole data set. */
const SHOWN = { depth: 2, breakLength: Infinity, maxArrayLength: 10, maxStringLength: 200 } as const;
const SHOWN_CHARS = 500;

/** A thrown value as util.inspect shows it, on one line and cut short (a message is read in one line of a log). */
function shown(value: unknown): string {
  let text: string;
  try {
    // Long arrays come grouped over several lines whatever breakLength says; strings show their newlines escaped.
    text = inspect(value, SHOWN).replace(/\s*\n\s*/g, " ");
  } catch {
    // A custom inspect method that throws still leaves the value's own text.
    text = String(value);
  }
  return text.length <= SHOWN_CHARS ? text : `${text.slice(0, SHOWN_CHARS)}...`;
}

/** A string or number `code` property: kept as an Error's is, so retryOn can match what was thrown by its code. */
function codeOf(value: unknown): { code?: string | number } {
  if (typeof value !== "object" || value === null) return {};
  const code = (value as { code?: unknown }).code;
  return typeof code === "string" || typeof code === "number" ? { code } : {};
}

/** Name, message, stack, code and (up to 8 deep) causes of what was thrown. */
export function serializeError(error: unknown, depth = 0): SerializedError {
  if (!(error instanceof Error))
    return { name: "Error", message: `a non-Error value was thrown: ${shown(error)}`, ...codeOf(error) };
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    ...codeOf(error),
    ...(error.cause !== undefined && depth < 8 ? { cause: serializeError(error.cause, depth + 1) } : {}),
  };
}
