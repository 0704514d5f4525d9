/**
 * How a function travels to the workers:
 *  - "source": a plain function, shipped as its source text and compiled once per worker thread (cached by hash),
 *    with the compiler helpers (tsx's `__name`, tsc's `__awaiter`, ...) it uses bound by the worker;
 *  - "module": a module specifier (or file URL) and export name, imported by the worker;
 *  - "cached": the key under which the pool already put a source function into the workers' shared memory.
 */
import { createHash } from "node:crypto";
import { freeNames, usesThis } from "./free-names.js";
import { FunctionShippingError } from "./errors.js";
import { providedHelper } from "./compiler-helpers.js";
import { boundAdvice, closureAdvice, nativeAdvice } from "./shipping-advice.js";

/** A function shipped as source. */
export interface SourceRef {
  readonly kind: "source";
  /** An expression that evaluates to the function (its source text, method shorthand wrapped). */
  readonly source: string;
  /** sha256 (hex) of `source`: the workers cache the compiled function by it. */
  readonly hash: string;
  readonly name: string;
  /** The compiler helpers `source` uses, which the workers provide (compiler-helpers.ts); absent when none. */
  readonly helpers?: readonly string[];
}
import { fileTakenForPackage } from "./module-hint.js";

export type FunctionRef =
  | SourceRef
  | { readonly kind: "module"; readonly specifier: string; readonly exportName: string }
  | { readonly kind: "cached"; readonly key: string };

const MODULE_REF = Symbol.for("glimpse-cluster.moduleFunction");

/** A reference to a function exported by a module: pass it to map in place of a function. */
export interface ModuleFunction<T = unknown, R = unknown> {
  readonly [MODULE_REF]: true;
  readonly specifier: string;
  readonly exportName: string;
  /** Type carriers only. */
  readonly __types?: (item: T) => R;
}

/** What map accepts as its function. */
export type MapFunction<T, R> = ((item: T) => R | Promise<R>) | ModuleFunction<T, R>;

/**
 * References `exportName` (default "default") of a module the workers can
 * import: a file URL (e.g. `new URL("./tasks.js", import.meta.url)`), an
 * absolute path, or a package specifier resolvable on the workers.
 */
export function moduleFunction<T = unknown, R = unknown>(
  specifier: string | URL,
  exportName = "default",
): ModuleFunction<T, R> {
  let spec = specifier instanceof URL ? specifier.href : specifier;
  if (typeof spec !== "string" || spec === "")
    throw new FunctionShippingError("moduleFunction specifier", "expected a non-empty string or URL");
  if (spec.startsWith("/")) spec = `file://${spec}`;
  if (spec.startsWith(".")) {
    throw new FunctionShippingError(
      "moduleFunction specifier",
      `"${spec}" is a relative specifier, which means nothing on a worker; use new URL("${spec}", import.meta.url)`,
    );
  }
  const mistaken = fileTakenForPackage(spec, moduleFunction);
  if (mistaken !== undefined) throw new FunctionShippingError("moduleFunction specifier", mistaken);
  if (typeof exportName !== "string" || exportName === "")
    throw new FunctionShippingError("moduleFunction exportName", "expected a non-empty string");
  return Object.freeze({ [MODULE_REF]: true as const, specifier: spec, exportName });
}

export function isModuleFunction(value: unknown): value is ModuleFunction {
  return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[MODULE_REF] === true;
}

/** Turns source text that is a method shorthand (`f(x) {}`, `async f(x) {}`) into an expression the worker can compile. */
export function asExpression(source: string, name: string): string {
  const trimmed = source.trimStart();
  if (/^(async\s+)?function\b/.test(trimmed) || /^(async\s*)?(\(|[A-Za-z_$][\w$]*\s*=>)/.test(trimmed)) return source;
  // Method shorthand: wrap it in an object literal and take it out again.
  return `({ ${source} })[${JSON.stringify(name)}]`;
}

/** What a FunctionShippingError about map's function names as the bad argument. */
const MAP_FUNCTION_ARGUMENT = "map function";

/** Checks a function and turns it into a FunctionRef, or throws FunctionShippingError before anything is sent. */
export function toFunctionRef(fn: unknown): FunctionRef {
  if (isModuleFunction(fn)) return { kind: "module", specifier: fn.specifier, exportName: fn.exportName };
  if (typeof fn !== "function") {
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      `needs a function or moduleFunction(url, name), got ${fn === null ? "null" : typeof fn}`,
    );
  }
  const source = Function.prototype.toString.call(fn);
  const cacheKey = `${fn.name}\0${source}`;
  const known = checkedSources.get(cacheKey);
  if (known) return known;
  const ref = checkSource(fn as (...args: never[]) => unknown, source);
  // Keeps the most recently added entries: maps usually repeat a few functions, often as fresh closures.
  if (checkedSources.size >= CHECKED_SOURCES) checkedSources.delete(checkedSources.keys().next().value!);
  checkedSources.set(cacheKey, ref);
  return ref;
}

/** Functions already checked, by name and source text: parsing a source for free names costs tens of µs. */
const checkedSources = new Map<string, FunctionRef>();
const CHECKED_SOURCES = 256;

function checkSource(fn: (...args: never[]) => unknown, source: string): FunctionRef {
  const name = fn.name || "anonymous function";
  if (/\{\s*\[native code\]\s*\}\s*$/.test(source))
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      fn.name.startsWith("bound ") ? boundAdvice(fn) : nativeAdvice(fn),
    );
  if (/^class\b/.test(source))
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      `${name} is a class, not a function: map calls fn(item) without new`,
    );
  const kind = Object.getPrototypeOf(fn)?.constructor?.name;
  if (kind === "GeneratorFunction" || kind === "AsyncGeneratorFunction") {
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      `${name} is a generator function: map needs a function that returns (or resolves to) its result`,
    );
  }
  const expression = asExpression(source, fn.name);
  let free: string[];
  try {
    free = freeNames(expression);
  } catch (error) {
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      `${name} cannot be shipped: its source does not parse as a function (${(error as Error).message})`,
    );
  }
  const helpers = free.filter((n) => providedHelper(n) !== undefined);
  const missing = free.filter((n) => !helpers.includes(n));
  if (missing.length > 0) throw new FunctionShippingError(MAP_FUNCTION_ARGUMENT, closureAdvice(fn, missing));
  if (usesThis(expression, helpers)) {
    throw new FunctionShippingError(
      MAP_FUNCTION_ARGUMENT,
      `${name} uses "this", which has no value on the workers; pass what it needs as the item or through pool.setMemory`,
    );
  }
  const hash = createHash("sha256").update(expression).digest("hex");
  return Object.freeze({
    kind: "source",
    source: expression,
    hash,
    name,
    ...(helpers.length > 0 ? { helpers: Object.freeze(helpers) } : {}),
  });
}
