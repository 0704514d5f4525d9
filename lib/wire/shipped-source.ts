/**
 * How a worker compiles a function shipped as source, and how the pool reads
 * the stack frames that come back from it. The worker compiles
 *
 *   new Function("memory", ...helpers, shippedBody(source, hash))
 *
 * V8 puts two lines before the body (`function anonymous(memory,...` and
 * `) {`), and the body puts `"use strict";` on a line of its own and
 * `return (` before the source, so the source starts on line 4 at column 9.
 * The `sourceURL` names the script after the source's hash, so a frame in it
 * reads `at hex (glimpse-function:<hash>:4:24)`.
 */

/** What a shipped function's frames name as their script, before its hash. */
export const SHIPPED_URL_PREFIX = "glimpse-function:";

const FIRST_LINE = 4;
const FIRST_COLUMN = 9;

/** The function body the worker compiles for `source` (an expression; see FunctionRef). */
export function shippedBody(source: string, hash: string): string {
  return `"use strict";\nreturn (${source});\n//# sourceURL=${SHIPPED_URL_PREFIX}${hash}`;
}

/** A position within the source expression, both 1-based; undefined for one before it (the wrapper's). */
export function sourcePosition(line: number, column: number): { line: number; column: number } | undefined {
  if (line < FIRST_LINE || (line === FIRST_LINE && column < FIRST_COLUMN)) return undefined;
  return { line: line - FIRST_LINE + 1, column: line === FIRST_LINE ? column - FIRST_COLUMN + 1 : column };
}

/** A stack frame line's location in a shipped function's script: `(glimpse-function:<hash>:L:C)` or a bare `at glimpse-function:...`. */
export const SHIPPED_FRAME = /(\(|at )glimpse-function:([0-9a-f]{64}):(\d+):(\d+)(\)?)$/;
