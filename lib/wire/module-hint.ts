/**
 * A moduleFunction specifier written as a file name without `./`
 * (`moduleFunction("tasks.mjs", "score")`) is a package name to Node: the
 * workers would look for a package called tasks.mjs. When no such package
 * resolves from the caller and a file of that name lies beside the caller,
 * the mistake is plain: say so, with the specifier that works.
 */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/** The file of the code that called `fn`, from the stack; undefined when it is not a file. */
function callerFile(fn: (...args: never[]) => unknown): string | undefined {
  const original = Error.prepareStackTrace;
  const holder: { stack?: unknown } = {};
  let sites: unknown;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    Error.captureStackTrace(holder, fn);
    sites = holder.stack; // formatted when first read: while the call sites are asked for
  } finally {
    Error.prepareStackTrace = original;
  }
  const name = Array.isArray(sites) ? (sites[0] as NodeJS.CallSite | undefined)?.getFileName() : undefined;
  if (!name) return undefined;
  if (name.startsWith("file:")) return fileURLToPath(name);
  return path.isAbsolute(name) ? name : undefined;
}

/**
 * What is wrong with `specifier`, a bare one (no scheme, not a path) given to
 * `fn`, when a file of that name lies beside fn's caller and no package of
 * that name resolves from there; undefined otherwise.
 */
export function fileTakenForPackage(specifier: string, fn: (...args: never[]) => unknown): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(specifier) || specifier.startsWith("/") || specifier.startsWith(".")) return;
  const caller = callerFile(fn);
  if (caller === undefined) return undefined;
  const beside = path.join(path.dirname(caller), specifier);
  if (!fs.statSync(beside, { throwIfNoEntry: false })?.isFile()) return undefined;
  try {
    createRequire(caller).resolve(specifier);
    return undefined; // a package of that name exists: it is what Node imports
  } catch {
    // no such package: the file is what was meant
  }
  return `"${specifier}" is a package name to Node, and no package of that name exists; the file ${beside} is beside ${caller}: reference it as new URL("./${specifier}", import.meta.url)`;
}
