/**
 * How an error names one submitted call: `name(arg, arg)`, each argument shown short as Node's
 * inspect shows it (depth 0, long strings and arrays cut), so that a failing call can be told from
 * its siblings without a large argument filling the message (or spilling what it holds).
 */
import { inspect } from "node:util";

const ARGUMENT_CHARS = 60;
const CALL_CHARS = 120;
const SHOWN = { depth: 0, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 24, compact: true } as const;

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** `name(args)`: `args` is the call's argument list, or (spread false) its one argument. */
function callText(name: string, args: unknown, spread: boolean): string {
  const list = spread && Array.isArray(args) ? args : [args];
  const shown = list.map((arg) => cut(shownArgument(arg), ARGUMENT_CHARS)).join(", ");
  return `${name}(${cut(shown, CALL_CHARS)})`;
}

/** An argument as inspect shows it; one whose own inspect throws is not worth failing the call's error or its console.log. */
function shownArgument(arg: unknown): string {
  try {
    return inspect(arg, SHOWN);
  } catch {
    return "…";
  }
}

/**
 * Names the call at an index of a batch of submitted calls (each one's argument, or with spread its
 * argument list); an index outside the batch, which a worker would not send, as `name(...)`.
 */
export function callsOf(name: string, calls: ArrayLike<unknown>, spread: boolean): (index: number) => string {
  return (index) =>
    Number.isInteger(index) && index >= 0 && index < calls.length
      ? callText(name, calls[index], spread)
      : `${name}(...)`;
}
