/**
 * Points a remote stack at the caller's code. A function shipped as source
 * runs on a worker as a script named after its hash (shipped-source.ts), so
 * its frames read `at hex (glimpse-function:<hash>:4:24)`. The pool knows
 * where that function was written (function-inspector.ts asks V8, once per
 * function and only when an error comes back), so each such frame becomes
 * the caller's file, line and column, through the script's source map when
 * this process has one (`--enable-source-maps`, tsx, or
 * process.setSourceMapsEnabled):
 *
 *   at hex (glimpse-function:<hash>:4:24)  ──►  at hex (file:///home/me/app.ts:12:20)
 *
 * RemoteError.remoteStack keeps the stack as the worker sent it; the
 * rewritten one is its cause's stack (and its causes').
 */
import { findSourceMap } from "node:module";
import { pathToFileURL } from "node:url";
import { RemoteError } from "./errors.js";
import type { SourceRef } from "./function-ref.js";
import { SHIPPED_FRAME, sourcePosition } from "./shipped-source.js";
import { functionOrigin, type FunctionOrigin } from "./function-inspector.js";

type Fn = (...args: never[]) => unknown;

const origins = new WeakMap<Fn, FunctionOrigin | null>();

function originOf(fn: Fn): FunctionOrigin | undefined {
  if (!origins.has(fn)) origins.set(fn, functionOrigin(fn) ?? null);
  return origins.get(fn) ?? undefined;
}

function sourceMapOf(url: string) {
  try {
    return findSourceMap(url) ?? (url.startsWith("/") ? findSourceMap(pathToFileURL(url).href) : undefined);
  } catch {
    return undefined;
  }
}

/**
 * Where line `line`, column `column` (1-based) of the shipped script is in
 * the caller's code, as `url:line:column`; undefined for the wrapper's own
 * lines.
 */
export function callerLocation(
  origin: FunctionOrigin,
  ref: SourceRef,
  text: string,
  line: number,
  column: number,
): string | undefined {
  const position = sourcePosition(line, column);
  if (!position) return undefined;
  // A method's source is wrapped (`({ m(x) {...} })["m"]`): its text starts a few columns into the expression.
  const shift = Math.max(0, ref.source.indexOf(text));
  const first = position.line === 1;
  if (first && position.column <= shift) return undefined;
  const generatedLine = origin.line + position.line - 1;
  const generatedColumn = first ? origin.column + position.column - 1 - shift : position.column - 1;
  const entry = sourceMapOf(origin.url)?.findEntry(generatedLine, generatedColumn) as
    { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined && entry.originalColumn !== undefined)
    return `${entry.originalSource}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  return `${origin.url}:${generatedLine + 1}:${generatedColumn + 1}`;
}

/** Rewrites the frames of `ref`'s script in `stack`; the stack as it was when none are there or fn's origin is unknown. */
export function mapShippedFrames(stack: string, fn: Fn, ref: SourceRef): string {
  const lines = stack.split("\n");
  if (!lines.some((line) => SHIPPED_FRAME.exec(line)?.[2] === ref.hash)) return stack;
  const origin = originOf(fn);
  if (!origin) return stack;
  const text = Function.prototype.toString.call(fn);
  return lines
    .map((line) => {
      const match = SHIPPED_FRAME.exec(line);
      if (!match || match[2] !== ref.hash) return line;
      const location = callerLocation(origin, ref, text, Number(match[3]), Number(match[4]));
      return location === undefined ? line : line.slice(0, match.index) + `${match[1]}${location}${match[5]}`;
    })
    .join("\n");
}

/** Points the stacks of `error`'s cause chain at the code of `fn`, the function shipped as `ref`. */
export function pointAtCaller(error: RemoteError, fn: Fn, ref: SourceRef): void {
  for (let cause = error.cause, depth = 0; cause instanceof Error && depth < 9; cause = cause.cause, depth++) {
    if (typeof cause.stack === "string") cause.stack = mapShippedFrames(cause.stack, fn, ref);
  }
}
