/**
 * Class instances in map items and results. An item travels as a structured
 * clone (the V8 codec) or as JSON: an instance of a class of the program's own
 * arrives as a plain object, without its prototype, so its methods and getters
 * are gone on the worker. Rather than let the function meet such an object,
 * encoding refuses the item, naming its index, where in it the instance
 * is, and its class. A result comes back the same way, so a worker refuses
 * one that holds an instance as its item's error (resultInstanceProblem)
 * rather than let the caller meet a plain object in its place.
 *
 * What travels as itself: primitives, plain objects (prototype
 * Object.prototype or null), arrays, and the built-in types a structured
 * clone keeps: Date, RegExp, Map, Set, Error and its standard subclasses,
 * ArrayBuffer, typed arrays (Buffer too), DataView and boxed primitives.
 * Subclasses of those (`class Table extends Map`) are refused as well: they
 * arrive as their built-in base. Shared memory's entries are checked the
 * same way, functions included (findUntravellable, memory-codec.ts).
 */
import { ItemSerializationError } from "./errors.js";

const TYPED_ARRAYS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];

/** Prototypes of built-in types that travel as themselves and hold no items of their own to look into. */
const LEAVES: ReadonlySet<unknown> = new Set([
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  SharedArrayBuffer.prototype,
  DataView.prototype,
  Buffer.prototype,
  ...TYPED_ARRAYS.map((type) => type.prototype),
  Error.prototype,
  EvalError.prototype,
  RangeError.prototype,
  ReferenceError.prototype,
  SyntaxError.prototype,
  TypeError.prototype,
  URIError.prototype,
  Number.prototype,
  String.prototype,
  Boolean.prototype,
  BigInt.prototype,
]);

interface Found {
  /** The instance's class name; undefined for a function (only looked for on request). */
  readonly className: string | undefined;
  /** Where in the item, innermost step first. */
  readonly steps: string[];
}

/** `found`, one step further out. */
function at(found: Found, step: string): Found {
  found.steps.push(step);
  return found;
}

function propertyStep(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/**
 * One walk over an item. The fast walk keeps no set of the objects seen
 * (adding each to a Set costs as much as the rest of the walk): it gives up
 * past FAST_DEPTH levels or FAST_OBJECTS objects, which only cyclic,
 * very deep or very large items reach, and the item is walked again with
 * `seen`, visiting each object once.
 */
class Walk {
  objects = 0;
  constructor(
    /** Whether functions are reported too (items leave them to the serializer's own error). */
    readonly functions: boolean,
    readonly seen?: Set<object>,
  ) {}
}
const FAST_DEPTH = 64;
const FAST_OBJECTS = 10_000;
const GIVE_UP = Symbol("walk again with a set of the objects seen");

function visit(value: unknown, walk: Walk, depth: number): Found | undefined {
  if (typeof value === "function" && walk.functions) return { className: undefined, steps: [] };
  if (typeof value !== "object" || value === null) return undefined;
  if (walk.seen) {
    if (walk.seen.has(value)) return undefined;
    walk.seen.add(value);
  } else if (depth > FAST_DEPTH || ++walk.objects > FAST_OBJECTS) throw GIVE_UP;
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const record = value as Record<string, unknown>;
    for (const key in record) {
      const found = visit(record[key], walk, depth + 1);
      if (found) return at(found, propertyStep(key));
    }
    return undefined;
  }
  if (proto === Array.prototype) {
    const array = value as unknown[];
    for (let i = 0; i < array.length; i++) {
      const found = visit(array[i], walk, depth + 1);
      if (found) return at(found, `[${i}]`);
    }
    return undefined;
  }
  if (proto === Map.prototype) {
    for (const [key, entry] of value as Map<unknown, unknown>) {
      const found = visit(key, walk, depth + 1) ?? visit(entry, walk, depth + 1);
      if (found) return at(found, `.get(${typeof key === "string" ? JSON.stringify(key) : String(key)})`);
    }
    return undefined;
  }
  if (proto === Set.prototype) {
    let i = 0;
    for (const entry of value as Set<unknown>) {
      const found = visit(entry, walk, depth + 1);
      if (found) return at(found, `.values()[${i}]`);
      i++;
    }
    return undefined;
  }
  if (LEAVES.has(proto)) return undefined;
  const name = (proto as { constructor?: { name?: unknown } } | undefined)?.constructor?.name;
  return { className: typeof name === "string" && name !== "" ? name : "(anonymous)", steps: [] };
}

/** The class instance in `item` (or, with `functions`, the function) that would not arrive as itself, if any. */
function findInstance(item: unknown, functions = false): Found | undefined {
  try {
    return visit(item, new Walk(functions), 0);
  } catch (error) {
    if (error !== GIVE_UP) throw error;
    return visit(item, new Walk(functions, new Set()), 0);
  }
}

/** Where in a value a function or class instance sits ("it", "its .shape.points[0]"), and its class. */
export interface Untravellable {
  readonly where: string;
  /** undefined: a function. */
  readonly className: string | undefined;
}

/** The first function or class instance in `value` that could not travel as itself (shared memory's check), if any. */
export function findUntravellable(value: unknown): Untravellable | undefined {
  const found = findInstance(value, true);
  return found && { where: whereIn(found), className: found.className };
}

const whereIn = (found: Found) => (found.steps.length === 0 ? "it" : `its ${[...found.steps].reverse().join("")}`);

/** Why an instance of `className` is refused, and what to send instead. */
export const instanceProblem = (where: string, className: string) =>
  `${where} is an instance of class ${className}, which would arrive as a plain object, without its methods and getters; send its data (e.g. { ...value } or a toJSON()), and rebuild the instance in the function if it needs one`;

/** Why a result holding an instance of `className` is refused, and what to return instead. */
const resultInstanceAdvice = (where: string, className: string) =>
  `${where} is an instance of class ${className}, which would arrive as a plain object, without its methods and getters; return plain data instead (e.g. { ...value } or a toJSON()), and rebuild the instance from it if the caller needs one`;

/**
 * Why `result` cannot come back as itself (it holds an instance of a class
 * other than the built-ins that travel); undefined when it can. Primitives
 * are not looked into, and objects get the walk an item gets: the same
 * cost, paid by the same kinds of values (number results, sent as raw
 * bytes, never come here). Functions and symbols are left to the
 * serializer's own error, as in items.
 */
export function resultInstanceProblem(result: unknown): string | undefined {
  if (typeof result !== "object" || result === null) return undefined;
  const found = findInstance(result);
  return found && resultInstanceAdvice(whereIn(found), found.className!);
}

/**
 * Throws ItemSerializationError for the first of `items` that holds an
 * instance of a class that would not arrive as itself; `start` is the index
 * of items[0] within the whole map, `indexes` each item's when they are not consecutive.
 */
export function refuseClassInstances(items: readonly unknown[], start: number, indexes?: readonly number[]): void {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (typeof item !== "object" || item === null) continue;
    const found = findInstance(item);
    if (!found) continue;
    throw new ItemSerializationError(
      indexes?.[i] ?? start + i,
      new TypeError(instanceProblem(whereIn(found), found.className!)),
    );
  }
}
