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

/** The value of each helper in `names`, in order. Rejects with HELPER_UNAVAILABLE for a name this worker does not provide. */
export async function helperValues(names: readonly string[]): Promise<unknown[]> {
  return Promise.all(
    names.map(async (name) => {
      switch (providedHelper(name)) {
        case "esbuild":
          return __name;
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
