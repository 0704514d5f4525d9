/**
 * The values a worker thread binds to the compiler helpers a shipped source
 * uses (wire/compiler-helpers.ts says which names those are). Loaded when a
 * source that needs them is compiled, once per thread: tslib is one module,
 * and each swc helper its own.
 */
import { providedHelper } from "../wire/compiler-helpers.js";
import { helperUnavailable } from "./errors.js";

/** esbuild's keepNames helper: gives `target` the name it had in the source. */
function __name<T extends object>(target: T, value: string): T {
  return Object.defineProperty(target, "name", { value, configurable: true });
}

/** A resource a using declaration holds: disposed in reverse order when its block ends. */
interface Held {
  readonly awaited: boolean;
  readonly dispose?: () => unknown;
  readonly value?: unknown;
}

const DISPOSE = Symbol.dispose ?? Symbol.for("Symbol.dispose");
const ASYNC_DISPOSE = Symbol.asyncDispose ?? Symbol.for("Symbol.asyncDispose");

/**
 * esbuild's helper for `using x = value` (`await using` when `awaited`): holds the value's dispose method
 * on the block's stack, and gives the value back. As the proposal says: null and undefined hold nothing
 * (but an `await using` of one still awaits), anything else without the method is a TypeError.
 */
function __using(stack: Held[], value: unknown, awaited?: boolean): unknown {
  if (value === null || value === undefined) {
    if (awaited) stack.push({ awaited: true });
    return value;
  }
  if (typeof value !== "object" && typeof value !== "function")
    throw new TypeError("a using declaration needs an object or null");
  const holder = value as Record<symbol, unknown>;
  let dispose = awaited ? holder[ASYNC_DISPOSE] : undefined;
  if (dispose === undefined) dispose = holder[DISPOSE];
  if (typeof dispose !== "function") throw new TypeError("the object of a using declaration is not disposable");
  stack.push({ awaited: Boolean(awaited), dispose: dispose as () => unknown, value });
  return value;
}

/**
 * esbuild's helper at the end of a block with using declarations: disposes what the stack holds, last
 * first. A failure while disposing wraps the error before it (SuppressedError, or an Error so named where
 * the runtime has none); the last one is thrown. Synchronous until the first `await using` entry, from
 * which on it returns a promise the block awaits.
 */
function __callDispose(stack: Held[], error: unknown, hasError: boolean): Promise<void> | undefined {
  const failed = (cause: unknown) => {
    error = hasError ? suppressed(cause, error) : cause;
    hasError = true;
  };
  const next = (): Promise<void> | undefined => {
    for (let held = stack.pop(); held; held = stack.pop()) {
      try {
        const result = held.dispose?.call(held.value);
        if (held.awaited)
          return Promise.resolve(result).then(next, (cause: unknown) => {
            failed(cause);
            return next();
          });
      } catch (cause) {
        failed(cause);
      }
    }
    if (hasError) throw error;
    return undefined;
  };
  return next();
}

function suppressed(error: unknown, suppressedError: unknown): Error {
  const message = "An error was suppressed during disposal";
  const Native = (globalThis as { SuppressedError?: new (e: unknown, s: unknown, m: string) => Error }).SuppressedError;
  if (Native) return new Native(error, suppressedError, message);
  return Object.assign(new Error(message), { name: "SuppressedError", error, suppressed: suppressedError });
}

let tslib: Promise<Record<string, unknown>> | undefined;
const swc = new Map<string, Promise<unknown>>();

/** One swc helper, callable as itself and as `._` (how swc's CommonJS output with externalHelpers calls it). */
function swcHelper(name: string): Promise<unknown> {
  let loaded = swc.get(name);
  if (!loaded) {
    loaded = import(`@swc/helpers/_/${name}`).then((module: { _: (...args: unknown[]) => unknown }) => {
      const helper = module._.bind(undefined);
      return Object.defineProperty(helper, "_", { value: module._ });
    });
    loaded.catch(() => swc.delete(name));
    swc.set(name, loaded);
  }
  return loaded;
}

const ESBUILD_HELPERS = { __name, __using, __callDispose };

/** The value of each helper in `names`, in order. Rejects with HELPER_UNAVAILABLE for a name this worker does not provide. */
export async function helperValues(names: readonly string[]): Promise<unknown[]> {
  return Promise.all(
    names.map(async (name) => {
      switch (providedHelper(name)) {
        case "esbuild":
          return ESBUILD_HELPERS[name as keyof typeof ESBUILD_HELPERS];
        case "cache-slot":
          return undefined;
        case "tslib":
          tslib ??= import("tslib") as Promise<Record<string, unknown>>;
          return (await tslib)[name];
        case "tslib-namespace":
          tslib ??= import("tslib") as Promise<Record<string, unknown>>;
          return await tslib;
        case "swc":
          return swcHelper(name);
        default:
          throw helperUnavailable(name);
      }
    }),
  );
}
