/** A Gearman function name as clients submit to and workers register: non-empty, no NUL (it is a NUL-separated packet argument). */
import { ArgumentError } from "../argument-error.js";

export function checkFunctionName(argument: string, func: unknown): asserts func is string {
  if (typeof func !== "string" || func === "" || func.includes("\0")) {
    throw new ArgumentError(
      argument,
      `expected a non-empty function name without NUL bytes, got ${typeof func === "string" ? JSON.stringify(func) : typeof func}`,
    );
  }
}
