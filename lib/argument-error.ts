/**
 * The one error every layer throws for a bad argument or option, from the
 * Gearman packets up to the pool: a TypeError (as Node's own argument
 * errors are) with the stable code "BAD_ARGUMENT" and the name of what was
 * wrong, so a caller branches on `code` and a person reads `argument`.
 *
 *   new GearmanClient({ servers: "" })       → ArgumentError "GearmanClient option servers: ..."
 *   pool.map(fn, items, { chunksize: 0 })    → ArgumentError "map option chunksize: ..."
 *
 * Configuration files have their own ConfigError (it names file, section
 * and key); a config object given to MakePool is checked the same way.
 */
export class ArgumentError extends TypeError {
  override name = "ArgumentError";
  readonly code = "BAD_ARGUMENT";
  constructor(
    /** What was wrong, e.g. `JobServer option port` or `map items`. */
    readonly argument: string,
    problem: string,
    options?: ErrorOptions,
  ) {
    super(`${argument}: ${problem}`, options);
  }
}

/** A whole number from `min` to `max`, or an ArgumentError naming `argument`. */
export function wholeNumber(argument: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new ArgumentError(
      argument,
      `expected a whole number ${range}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`,
    );
  }
  return value;
}
