/** Parsers for command-line arguments: a bad value is a usage error (exit 2) naming the argument. */
import { UsageError } from "./errors.js";

/** Parses a whole-number argument, or fails with a usage error naming it. */
export function wholeNumber(name: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new UsageError(`${name}: expected a whole number ≥ ${min}, got "${text}"`);
    return value;
  };
}

export function positiveSeconds(name: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0)
      throw new UsageError(`${name}: expected a number of seconds > 0, got "${text}"`);
    return value;
  };
}
