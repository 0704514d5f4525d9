/**
 * One way to check options: a schema of rules, one line per option, that
 * checks an options object once into a filled, frozen form (or, for options
 * given on every call, only checks them, building nothing).
 *
 *   const SERVER = optionsSchema("JobServer", {
 *     host: text("an address such as 127.0.0.1").default("127.0.0.1"),
 *     port: whole(0, 65535).default(4730),
 *     log: func<(line: string) => void>().optional(),
 *   } satisfies RulesOf<JobServerOptions>);        // a rule for every declared option, and no other
 *   SERVER.fill({ port: 0 })                       // → { host: "127.0.0.1", port: 0, log: undefined }, frozen
 *
 * Every refusal is an ArgumentError in one style, naming the owner and the
 * option (a nested one by its key path), with `owner` and `option` set:
 *
 *   JobServer options: expected an object, got null
 *   JobServer option prot: unknown option (did you mean "port"?); known: host, port, log
 *   JobServer option port: expected a whole number from 0 to 65535, got 70000
 *   GearmanClient option reconnect.maxDelay: unknown option (did you mean "maxDelayMs"?); known: initialDelayMs, maxDelayMs
 *
 * A rule reads a given value into what the filled form keeps, or returns a
 * Refusal: REFUSED for "expected <rule.expected>, got <the value>", or one
 * with its own problem text. An absent (undefined) option is refused unless
 * its rule is optional() or has a default; defaults are kept as they are.
 */
import { ArgumentError, isWhole, shown, wholeRange } from "./argument-error.js";

/** Why a value was refused; `path`: where inside a nested options object. */
export class Refusal {
  constructor(
    /** What is wrong; none: "expected <the rule's expected>, got <the value>". */
    readonly problem?: string,
    readonly path?: string,
  ) {}
}

/** A rule's answer for a value that is not what it expects. */
export const REFUSED = new Refusal();

type Absent<T> =
  { readonly kind: "required" } | { readonly kind: "optional" } | { readonly kind: "default"; readonly make: () => T };

const REQUIRED = Object.freeze({ kind: "required" as const });
const OPTIONAL = Object.freeze({ kind: "optional" as const });

export class Rule<T> {
  constructor(
    /** What a valid value is, for "expected <this>, got ...". */
    readonly expected: string,
    /** The given (defined) value as the filled form keeps it, or a Refusal. */
    readonly read: (value: unknown) => T | Refusal,
    readonly absent: Absent<T> = REQUIRED,
  ) {}

  /** Absent is allowed, and stays undefined. */
  optional(): Rule<T | undefined> {
    return new Rule<T | undefined>(this.expected, this.read, OPTIONAL);
  }

  /** Absent means `value`. */
  default(value: T): Rule<T> {
    return new Rule(this.expected, this.read, { kind: "default", make: () => value });
  }

  /** Absent means what `make` returns then (a value found at fill time, e.g. the machine's cores). */
  defaultFrom(make: () => T): Rule<T> {
    return new Rule(this.expected, this.read, { kind: "default", make });
  }

  /** A value this rule accepted, read further (parsed, or checked across a nested object's keys). Give it before optional() or a default. */
  after<U>(next: (value: T) => U | Refusal): Rule<U> {
    return new Rule<U>(this.expected, (value) => {
      const read = this.read(value);
      return read instanceof Refusal ? read : next(read);
    });
  }

  /** This rule's values, or else `other`'s: "expected <this> or <other>". */
  or<U>(other: Rule<U>): Rule<T | U> {
    return new Rule<T | U>(`${this.expected} or ${other.expected}`, (value) => {
      const first = this.read(value);
      if (!(first instanceof Refusal)) return first;
      const second = other.read(value);
      if (!(second instanceof Refusal)) return second;
      return second.problem !== undefined ? second : first.problem !== undefined ? first : REFUSED;
    });
  }
}

/** A value checked by `rule`, absent ones included. */
export function readValue<T>(rule: Rule<T>, value: unknown): T | Refusal {
  if (value === undefined) {
    if (rule.absent.kind === "optional") return undefined as T;
    if (rule.absent.kind === "default") return rule.absent.make();
  }
  return rule.read(value);
}

// The rules options are made of.

/** A whole number from `min` (to `max`). */
export const whole = (min: number, max?: number): Rule<number> =>
  new Rule(wholeRange(min, max), (value) => (isWhole(value, min, max) ? value : REFUSED));

export const flag = (): Rule<boolean> =>
  new Rule("true or false", (value) => (typeof value === "boolean" ? value : REFUSED));

/** A string that is not empty. */
export const text = (expected = "a non-empty string"): Rule<string> =>
  new Rule(expected, (value) => (typeof value === "string" && value !== "" ? value : REFUSED));

/** One of a few values: `"inherit" or "ignore"`, `true, false or "auto"`. */
export function oneOf<const V extends readonly (string | number | boolean)[]>(...values: V): Rule<V[number]> {
  const shownValues = values.map((v) => (typeof v === "string" ? JSON.stringify(v) : String(v)));
  const expected =
    shownValues.length === 1 ? shownValues[0] : `${shownValues.slice(0, -1).join(", ")} or ${shownValues.at(-1)}`;
  return new Rule(expected, (value) => (values.includes(value as V[number]) ? (value as V[number]) : REFUSED));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function type
export const func = <F extends (...args: any[]) => unknown>(expected = "a function"): Rule<F> =>
  new Rule(expected, (value) => (typeof value === "function" ? (value as F) : REFUSED));

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any class
export const instance = <C>(type: abstract new (...args: any[]) => C, expected: string): Rule<C> =>
  new Rule(expected, (value) => (value instanceof type ? value : REFUSED));

/** Any object (not null, not an array), kept as given: for options whose keys another schema checks, or a platform's. */
export const plainObject = <T extends object>(expected = "an object"): Rule<T> =>
  new Rule(expected, (value) =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? (value as T) : REFUSED,
  );

/** An array of at least `min` items, each read by `item`, as a frozen copy. A refused item is named by its index unless its rule gives its own problem. */
export function list<T>(item: Rule<T>, expected: string, min = 0): Rule<readonly T[]> {
  return new Rule(expected, (value) => {
    if (!Array.isArray(value) || value.length < min) return REFUSED;
    const out: T[] = [];
    for (let i = 0; i < value.length; i++) {
      const read = readValue(item, value[i]);
      if (read instanceof Refusal)
        return new Refusal(read.problem ?? `item ${i}: expected ${item.expected}, got ${shown(value[i])}`);
      out.push(read);
    }
    return Object.freeze(out);
  });
}

/** A nested options object with its own rules (unknown keys refused), read into its filled, frozen form. */
export function object<R extends Rules>(rules: R, expected?: string): Rule<Filled<R>> {
  const schema = new OptionsSchema("", rules);
  return new Rule(expected ?? `{ ${Object.keys(rules).join(", ")} }`, (value) => schema.read(value));
}

export type Rules = { readonly [key: string]: Rule<unknown> };

/** The filled form a schema's rules make. */
export type Filled<R extends Rules> = { readonly [K in keyof R]: R[K] extends Rule<infer T> ? T : never };

/** The rules an options interface needs: one per declared option, and no other (with `satisfies`). */
export type RulesOf<I> = { readonly [K in keyof Required<I>]: Rule<unknown> };

export class OptionsSchema<R extends Rules> {
  private readonly keys: readonly string[];
  private readonly known: ReadonlySet<string>;
  /** What an options object is, for "<owner> options: expected <this>, got ...". */
  private readonly expected: string;

  constructor(
    /** Whose options, as errors name it: "JobServer", "map", "GearmanWorker.register(\"sum\")". */
    readonly owner: string,
    readonly rules: R,
    /** What one key is called in errors: "option", or e.g. "url". */
    private readonly what = "option",
  ) {
    this.keys = Object.freeze(Object.keys(rules));
    this.known = new Set(this.keys);
    const required = this.keys.filter((key) => rules[key].absent.kind === "required");
    this.expected = `an object${required.length > 0 ? ` with ${required.join(", ")}` : ""}`;
  }

  /** `input` checked into its filled, frozen form; an ArgumentError naming the first bad option otherwise. */
  fill(input: unknown, owner = this.owner): Filled<R> {
    const out = this.read(input);
    if (out instanceof Refusal) throw this.error(out, input, owner);
    return out;
  }

  /** `input` checked, building nothing (options given on every call, e.g. every job's). */
  check(input: unknown, owner = this.owner): void {
    const refusal = this.walk(input, undefined);
    if (refusal !== undefined) throw this.error(refusal, input, owner);
  }

  /** Throws the ArgumentError for a problem found after fill (across options), naming `key`. */
  refuse(key: keyof R & string, problem: string, owner = this.owner): never {
    throw this.error(new Refusal(problem, key), undefined, owner);
  }

  /** The filled, frozen form, or why not (as a nested object's rule reads it). */
  read(input: unknown): Filled<R> | Refusal {
    const out: Record<string, unknown> = {};
    return this.walk(input, out) ?? (Object.freeze(out) as Filled<R>);
  }

  private walk(input: unknown, out: Record<string, unknown> | undefined): Refusal | undefined {
    if (input === null || typeof input !== "object" || Array.isArray(input)) return REFUSED;
    for (const key in input) {
      if (!this.known.has(key)) return new Refusal(unknownKeyProblem(key, this.keys, this.what), key);
    }
    for (const key of this.keys) {
      const given = (input as Record<string, unknown>)[key];
      const rule = this.rules[key];
      const value = readValue(rule, given);
      if (value instanceof Refusal) {
        return new Refusal(
          value.problem ?? `expected ${rule.expected}, got ${shown(given)}`,
          value.path === undefined ? key : `${key}.${value.path}`,
        );
      }
      if (out !== undefined) out[key] = value;
    }
    return undefined;
  }

  private error(refusal: Refusal, input: unknown, owner: string): ArgumentError {
    const problem = refusal.problem ?? `expected ${this.expected}, got ${shown(input)}`;
    if (refusal.path === undefined) return new ArgumentError(`${owner} ${this.what}s`, problem, { owner });
    return new ArgumentError(`${owner} ${this.what} ${refusal.path}`, problem, { owner, option: refusal.path });
  }
}

export function optionsSchema<R extends Rules>(owner: string, rules: R, what?: string): OptionsSchema<R> {
  return new OptionsSchema(owner, rules, what);
}

/**
 * The first key of `input` that is not one of `known`, refused in the one
 * style: `unknown option (did you mean "port"?); known: host, port`. For
 * other objects than options too, e.g. a jobsconfig's ("key").
 */
export function firstUnknownKey(
  input: object,
  known: readonly string[],
  what = "option",
): { readonly key: string; readonly problem: string } | undefined {
  for (const key in input) if (!known.includes(key)) return { key, problem: unknownKeyProblem(key, known, what) };
  return undefined;
}

function unknownKeyProblem(key: string, known: readonly string[], what: string): string {
  return `unknown ${what}${suggest(key, known)}; known: ${known.join(", ")}`;
}

/** ` (did you mean "port"?)` when one of `candidates` is a near miss of `name` (at most max(2, a third of it) edits away); else "". */
export function suggest(name: string, candidates: readonly string[]): string {
  let best = "";
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const score = editDistance(name, candidate);
    if (score < bestScore) [best, bestScore] = [candidate, score];
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean "${best}"?)` : "";
}

/** Levenshtein distance: single-character insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j];
      row[j] = next;
    }
  }
  return row[b.length];
}
