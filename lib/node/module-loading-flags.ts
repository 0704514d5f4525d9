/**
 * The Node.js flags of a process that decide how it loads modules. A local
 * cluster starts its worker nodes with the pool process's own, so that a
 * pool run by tsx (which starts Node with `--require` and `--import` flags of
 * its own) or with `--import tsx`, a custom loader or `--enable-source-maps`
 * has nodes, and node threads, that import what the pool process could: a
 * `.ts` module function, say. Other flags (`--inspect`, memory limits) stay
 * the pool process's own.
 */

/** Flags followed by a value, as `--flag value` or `--flag=value`. */
const WITH_VALUE: ReadonlySet<string> = new Set([
  "--import",
  "--require",
  "-r",
  "--loader",
  "--experimental-loader",
  "--conditions",
  "-C",
  "--experimental-default-type",
  "--experimental-specifier-resolution",
]);

/** Flags that stand alone. */
const ALONE: ReadonlySet<string> = new Set([
  "--enable-source-maps",
  "--experimental-strip-types",
  "--no-experimental-strip-types",
  "--experimental-transform-types",
  "--experimental-require-module",
  "--experimental-detect-module",
  "--no-experimental-detect-module",
  "--experimental-wasm-modules",
  "--experimental-import-meta-resolve",
]);

/** The flags of `execArgv` (a process's `process.execArgv`) that change how modules load, in order. */
export function moduleLoadingFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    const flag = arg.includes("=") ? arg.slice(0, arg.indexOf("=")) : arg;
    if (ALONE.has(arg)) kept.push(arg);
    else if (WITH_VALUE.has(flag)) {
      if (flag !== arg) kept.push(arg);
      else if (i + 1 < execArgv.length) kept.push(arg, execArgv[++i]);
    }
  }
  return kept;
}
