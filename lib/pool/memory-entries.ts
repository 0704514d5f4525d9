/**
 * What setMemory takes: a plain object whose keys are the entries' names. Anything else is refused
 * before anything is sent, saying what it got: a Map, a Set, an array or a class instance would
 * otherwise be read for its own enumerable properties (none, for a Map) and store nothing.
 */
import { ArgumentError } from "../argument-error.js";

const EXAMPLE = "e.g. { factor: 3 }";

export function checkEntries(entries: unknown): asserts entries is Record<string, unknown> {
  if (entries === null || typeof entries !== "object")
    throw new ArgumentError("setMemory entries", `expected an object of entries, ${EXAMPLE}`);
  const proto: unknown = Object.getPrototypeOf(entries);
  if (proto === Object.prototype || proto === null) return;
  if (entries instanceof Map)
    throw new ArgumentError("setMemory entries", "got a Map: pass an object of entries, e.g. Object.fromEntries(map)");
  throw new ArgumentError("setMemory entries", `got ${kindOf(entries)}: pass an object of entries, ${EXAMPLE}`);
}

/** "an array", "a Set", "a Date", "an instance of class Model". */
function kindOf(value: object): string {
  if (Array.isArray(value)) return "an array";
  const name = (value.constructor as { name?: unknown } | undefined)?.name;
  if (typeof name !== "string" || name === "") return "an object that is not a plain object";
  // A built-in (Set, Date, a typed array) by its name; anything else is some class's instance.
  const builtIn = (globalThis as Record<string, unknown>)[name] === value.constructor;
  return builtIn ? `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}` : `an instance of class ${name}`;
}
