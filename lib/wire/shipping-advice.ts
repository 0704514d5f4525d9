/**
 * What a FunctionShippingError tells the user to do, for a function that
 * cannot be shipped as source. Each suggestion must work for the value at
 * hand, so the names a function uses from its enclosing scope are looked up
 * in its closure (function-inspector.ts) and sorted by what they hold:
 *
 *   data (survives structured clone)       → pass it through shared memory: pool.setMemory({ name })
 *   a function or class                    → define it inside the function, or ship a moduleFunction
 *   an object holding functions (a module), require
 *                                          → ship a moduleFunction whose module imports it
 *   nothing (not defined there either)     → declare it inside the function
 *   a compiler helper the workers lack     → that helper's own advice (compiler-helpers.ts)
 *
 * Without an inspector the values are unknown and the advice names both ways.
 */
import { ALLOWED_GLOBALS } from "./free-names.js";
import { helperAdvice } from "./compiler-helpers.js";
import { closureValues } from "./function-inspector.js";

type Fn = (...args: never[]) => unknown;

const quoted = (names: readonly string[]) => {
  const list = names.map((n) => `"${n}"`);
  return list.length === 1 ? list[0] : `${list.slice(0, -1).join(", ")} and ${list[list.length - 1]}`;
};

/** How a user would reference `fn` from a module of its own. */
function moduleExample(fn: Fn): string {
  const exported = /^[A-Za-z_$][\w$]*$/.test(fn.name) ? fn.name : "name";
  return `moduleFunction(new URL("./module.js", import.meta.url), "${exported}")`;
}

const PLAIN_PROTOTYPES = new Set<unknown>([
  null,
  Object.prototype,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  Error.prototype,
]);

/** Whether `value` travels as a map item does (structured clone) without losing behaviour. */
function travels(value: unknown): boolean {
  if (typeof value === "function" || typeof value === "symbol") return false;
  if (typeof value === "object" && value !== null) {
    const prototype = Object.getPrototypeOf(value);
    if (!PLAIN_PROTOTYPES.has(prototype) && !ArrayBuffer.isView(value)) return false;
  }
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

const describeCode = (name: string, value: unknown): string =>
  typeof value === "function"
    ? `"${name}" (${/^class\b/.test(Function.prototype.toString.call(value)) ? "a class" : "a function"})`
    : `"${name}" (${typeof value === "object" && value !== null ? "an object with functions or a class instance, such as an imported module" : `a ${typeof value}`})`;

/** The message for a function that uses `missing` from its enclosing scope. */
export function closureAdvice(fn: Fn, missing: readonly string[]): string {
  const label = fn.name || "anonymous function";
  const header = `${label} uses ${quoted(missing)} from its enclosing scope, which does not exist on the workers.`;
  const helpers = missing.filter((n) => helperAdvice(n) !== undefined);
  const rest = missing.filter((n) => !helpers.includes(n));
  const sentences: string[] = [];
  for (const advice of new Set(helpers.map((n) => helperAdvice(n)!))) {
    const names = helpers.filter((n) => helperAdvice(n) === advice);
    sentences.push(
      `${quoted(names)} ${names.length === 1 ? advice.one : advice.many}, which the workers do not provide: ${advice.fix}.`,
    );
  }
  const values = rest.length > 0 ? closureValues(fn, rest) : new Map<string, unknown>();
  if (values === undefined) {
    const example = rest[0];
    sentences.push(
      `Pass data through shared memory (await pool.setMemory({ ${example} }) and read memory.get("${example}") in the function); ` +
        `functions, classes and imported modules cannot travel: define them inside the function, or ship ${moduleExample(fn)} from a module that imports them.`,
    );
    return [header, ...sentences].join(" ");
  }
  const data = rest.filter((n) => n !== "require" && values.has(n) && travels(values.get(n)));
  const functions = rest.filter((n) => n !== "require" && typeof values.get(n) === "function");
  const undefinedNames = rest.filter((n) => n !== "require" && !values.has(n));
  const code = rest.filter(
    (n) => n !== "require" && !data.includes(n) && !functions.includes(n) && !undefinedNames.includes(n),
  );
  if (data.length > 0) {
    sentences.push(
      `Pass ${quoted(data)} through shared memory: await pool.setMemory({ ${data.join(", ")} }), ` +
        `and read ${data.map((n) => `memory.get("${n}")`).join(", ")} in the function.`,
    );
  }
  if (functions.length > 0) {
    const them = functions.length === 1 ? "it" : "them";
    sentences.push(
      `${functions.map((n) => describeCode(n, values.get(n))).join(", ")} cannot travel: define ${them} inside the function, ` +
        `or put ${functions.length === 1 ? "both" : "them and the function"} in a module and ship ${moduleExample(fn)}.`,
    );
  }
  if (code.length > 0) {
    sentences.push(
      `${code.map((n) => describeCode(n, values.get(n))).join(", ")} cannot travel: put the function in a module that imports ` +
        `what it uses, and ship ${moduleExample(fn)}.`,
    );
  }
  if (rest.includes("require")) {
    sentences.push(
      `Shipped functions have no "require": put the function in a module that imports what it uses, and ship ${moduleExample(fn)}.`,
    );
  }
  if (undefinedNames.length > 0) {
    sentences.push(
      `${quoted(undefinedNames)} ${undefinedNames.length === 1 ? "is" : "are"} not defined where the function was written either: ` +
        `declare ${undefinedNames.length === 1 ? "it" : "them"} inside the function.`,
    );
  }
  return [header, ...sentences].join(" ");
}

/** Where a native function is reachable by name on any worker: `Math.sqrt`, `parseInt`, `String.prototype.trim`. */
function nativePath(fn: Fn): { path: string; call: string } | undefined {
  const name = fn.name;
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) return undefined;
  const globals = globalThis as Record<string, unknown>;
  if (globals[name] === fn && ALLOWED_GLOBALS.has(name)) return { path: name, call: `(x) => ${name}(x)` };
  for (const owner of ALLOWED_GLOBALS) {
    try {
      const holder = globals[owner];
      if (holder === null || (typeof holder !== "object" && typeof holder !== "function")) continue;
      if (Object.getOwnPropertyDescriptor(holder, name)?.value === fn)
        return { path: `${owner}.${name}`, call: `(x) => ${owner}.${name}(x)` };
      const prototype = typeof holder === "function" ? (holder as { prototype?: object }).prototype : undefined;
      if (prototype && Object.getOwnPropertyDescriptor(prototype, name)?.value === fn)
        return { path: `${owner}.prototype.${name}`, call: `(x) => x.${name}()` };
    } catch {
      // A global whose property read throws is none of these.
    }
  }
  return undefined;
}

/** The message for a native function (`Math.sqrt`): what to ship instead. */
export function nativeAdvice(fn: Fn): string {
  const found = nativePath(fn);
  if (found)
    return `${fn.name} is a native function (${found.path}): its source is not available. Ship a function that calls it: ${found.call}`;
  return (
    `${fn.name || "anonymous function"} is a native function: its source is not available, so it cannot be shipped as source. ` +
    `Ship a moduleFunction whose module exports a function that calls it`
  );
}

/** The message for a bound function (`f.bind(...)`). */
export function boundAdvice(fn: Fn): string {
  const target = fn.name.slice("bound ".length);
  return (
    `${target ? `"${fn.name}" is a bound function` : "an anonymous bound function"}: neither the source of the function it calls nor the values bound to it can be shipped. ` +
    `Ship a plain function instead, taking those values from the item or from shared memory (pool.setMemory), or a moduleFunction`
  );
}
