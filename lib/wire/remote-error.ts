/** Errors as they cross the wire, and the error the pool raises when the function threw on a worker. */

/** An error reduced to data (both codecs can carry it). */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string | number;
  readonly cause?: SerializedError;
}

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

/** Rebuilds an Error whose name, message and stack are the remote ones. */
export function deserializeError(data: SerializedError): Error {
  const error = new Error(data.message, data.cause ? { cause: deserializeError(data.cause) } : undefined);
  Object.defineProperty(error, "name", { value: data.name, configurable: true, writable: true });
  if (data.stack !== undefined) error.stack = data.stack;
  if (data.code !== undefined) Object.defineProperty(error, "code", { value: data.code, configurable: true, writable: true });
  return error;
}

export interface RemoteErrorDetails {
  readonly functionName: string;
  /** Index of the item that threw, within the whole map. */
  readonly index: number;
  readonly host: string;
  readonly pid: number;
  readonly error: SerializedError;
}

/**
 * The mapped function threw on a worker. `cause` is the remote error rebuilt
 * (its stack is the remote stack); `index`, `host` and `pid` say where.
 */
export class RemoteError extends Error {
  override name = "RemoteError";
  readonly index: number;
  readonly host: string;
  readonly pid: number;
  readonly remoteName: string;
  readonly remoteStack: string | undefined;

  constructor(details: RemoteErrorDetails) {
    super(
      `${details.functionName}(item ${details.index}) threw ${details.error.name}: ${details.error.message} on ${details.host}:${details.pid}`,
      { cause: deserializeError(details.error) },
    );
    this.index = details.index;
    this.host = details.host;
    this.pid = details.pid;
    this.remoteName = details.error.name;
    this.remoteStack = details.error.stack;
  }
}
