/**
 * Every error the wire layer raises. Functions, items and shared memory
 * entries that cannot travel are bad arguments to map or setMemory (ArgumentError, code "BAD_ARGUMENT", with a class
 * of their own saying which); payloads that do not follow the wire format
 * and errors that come back from a worker have codes of their own.
 */
import { ArgumentError } from "../argument-error.js";
import type { SerializedError } from "./remote-error.js";

/** A function cannot be shipped to the workers; the message says why and what to do. */
export class FunctionShippingError extends ArgumentError {
  override name = "FunctionShippingError";
}

/**
 * An item cannot travel (it holds a function, a symbol or a class instance); `index` is its index within the whole
 * map (for a submitted call, its place in its batch); `call`, for a submitted call, is how the message names it
 * (`sq(Point { x: 3 })`, lib/wire/call-text.ts) instead of `map item N`.
 */
export class ItemSerializationError extends ArgumentError {
  override name = "ItemSerializationError";
  constructor(
    readonly index: number,
    cause: unknown,
    call?: string,
  ) {
    super(
      call ?? `map item ${index}`,
      `cannot be sent to the workers: ${(cause as Error)?.message ?? cause} (items travel as data: primitives, plain objects, arrays, and the built-in Date, RegExp, Map, Set, Error, ArrayBuffer and typed arrays; no functions, symbols or instances of other classes)`,
      { cause },
    );
  }
}

/**
 * A typed array among a chunk's items was detached, transferred or resized after the chunk was encoded: a
 * large one's bytes are read from where they lie each time the chunk is sent (a retry too), so they would
 * not be what was encoded. Items must stay as they are until their map resolves.
 */
export class ItemChangedError extends ArgumentError {
  override name = "ItemChangedError";
  constructor(was: number, now: number) {
    super(
      "a map item",
      `a typed array of ${was} bytes among the chunk's items now has ${now} (detached, transferred or resized ` +
        `while its map ran); keep a map's items unchanged until the map resolves`,
    );
  }
}

/** A shared memory entry cannot travel (it holds a function or a class instance); `key` is the entry's. */
export class MemoryValueError extends ArgumentError {
  override name = "MemoryValueError";
  constructor(
    readonly key: string,
    problem: string,
    cause?: unknown,
  ) {
    super(`setMemory entry ${JSON.stringify(key)}`, problem, cause === undefined ? undefined : { cause });
  }
}

/** A chunk payload does not follow the wire format (docs/wire-format.md); the message says which part. */
export class WireFormatError extends Error {
  override name = "WireFormatError";
  readonly code = "WIRE_FORMAT";
}

export interface RemoteErrorDetails {
  readonly functionName: string;
  /** Index of the item that threw, within the whole map; undefined for a submitted call. */
  readonly index: number | undefined;
  readonly host: string;
  readonly pid: number;
  readonly error: SerializedError;
  /** How the message names the call that threw; default `functionName(item index)`, for a submitted call `name(args)`. */
  readonly call?: string;
}

/**
 * The mapped function threw on a worker. `cause` is the remote error rebuilt
 * (a RemoteCause: its name, message and stack are the remote ones, with the
 * frames of a function shipped as source pointing at the caller's file and
 * line: remote-stack.ts); `index`, `host` and `pid` say where.
 */
export class RemoteError extends Error {
  override name = "RemoteError";
  readonly code = "REMOTE";
  /**
   * The failing item's index within the whole input of map, imap, starmap...; undefined for a call
   * made with pool.submit or pool.apply, which is no item of a list (its message names the call).
   */
  readonly index: number | undefined;
  readonly host: string;
  readonly pid: number;
  readonly remoteName: string;
  /** The stack as the worker sent it (the cause's stack points a shipped function's frames at the caller's code). */
  readonly remoteStack: string | undefined;

  constructor(details: RemoteErrorDetails) {
    super(
      `${details.call ?? `${details.functionName}(item ${details.index})`} threw ${details.error.name}: ${details.error.message} on ${details.host}:${details.pid}`,
      { cause: new RemoteCause(details.error) },
    );
    this.index = details.index;
    this.host = details.host;
    this.pid = details.pid;
    this.remoteName = details.error.name;
    this.remoteStack = details.error.stack;
  }
}

/**
 * An error thrown on a worker, rebuilt here: its `name`, `message` and
 * `stack` are the remote ones, and so is its `code` when it had one
 * ("REMOTE_CAUSE" when it had none). Its causes are rebuilt the same way.
 */
export class RemoteCause extends Error {
  readonly code: string | number;

  constructor(data: SerializedError) {
    super(data.message, data.cause ? { cause: new RemoteCause(data.cause) } : undefined);
    Object.defineProperty(this, "name", { value: data.name, configurable: true, writable: true });
    if (data.stack !== undefined) this.stack = data.stack;
    this.code = data.code ?? "REMOTE_CAUSE";
  }
}
