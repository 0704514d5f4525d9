/**
 * The one error every layer throws for a bad argument or option, from the
 * Gearman packets up to the pool: a TypeError (as Node's own argument
 * errors are) with the stable code "BAD_ARGUMENT" and the name of what was
 * wrong, so a caller branches on `code` and a person reads `argument`.
 *
 *   new GearmanClient({ servers: "" })       → ArgumentError "GearmanClient option servers: ..."
 *   pool.map(fn, items, { chunksize: 0 })    → ArgumentError "map option chunksize: ..."
 *
 * Options are checked by one schema (options-schema.ts), whose errors also
 * carry `owner` and `option`, so a command line can name its own flag for
 * the option instead. Configuration files have their own ConfigError (it
 * names file, section and key); a config object given to MakePool is
 * checked the same way.
 */
export interface ArgumentErrorOptions extends ErrorOptions {
  /** Whose option was wrong, e.g. `JobServer` (options only). */
  readonly owner?: string;
  /** Which option, as a key path, e.g. `port` or `tls.cert` (options only). */
  readonly option?: string;
}

export class ArgumentError extends TypeError {
  override name = "ArgumentError";
  readonly code = "BAD_ARGUMENT";
  /** Whose option was wrong, e.g. `JobServer`; undefined for an argument that is no option. */
  readonly owner: string | undefined;
  /** The option's key path, e.g. `port` or `reconnect.maxDelayMs`; undefined for an argument that is no option. */
  readonly option: string | undefined;
  constructor(
    /** What was wrong, e.g. `JobServer option port` or `map items`. */
    readonly argument: string,
    /** What is wrong with it, e.g. `expected a whole number from 0 to 65535, got 70000`. */
    readonly problem: string,
    options?: ArgumentErrorOptions,
  ) {
    super(`${argument}: ${problem}`, options);
    this.owner = options?.owner;
    this.option = options?.option;
  }
}

/**
 * How a refused value is shown after "got": text quoted, numbers and the
 * like as they are, anything bigger by its kind only (never its contents).
 */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") return "an object";
  return String(value);
}

/** "a whole number ≥ 1", "a whole number from 0 to 65535": what wholeNumber and the whole option rule expect. */
export function wholeRange(min: number, max = Number.MAX_SAFE_INTEGER): string {
  return `a whole number ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`}`;
}

export function isWhole(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** A whole number from `min` to `max`, or an ArgumentError naming `argument`. */
export function wholeNumber(argument: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!isWhole(value, min, max))
    throw new ArgumentError(argument, `expected ${wholeRange(min, max)}, got ${shown(value)}`);
  return value;
}
