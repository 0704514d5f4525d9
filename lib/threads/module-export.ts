/**
 * A module's named export, imported once per thread: what a worker node's
 * chunk runner calls for a `moduleFunction` and what serve's module runner
 * calls for each job. A failed import is forgotten, so the next task tries
 * again (the module may have been fixed or installed meanwhile). In a
 * process run with tsx, the thread first gets tsx's hooks (thread-loaders.ts).
 */

import { registerThreadLoaders } from "./thread-loaders.js";

type Exported = (...args: never[]) => unknown;

const imported = new Map<string, Promise<Exported>>();

/**
 * The function `specifier` exports as `exportName`. An export that is not a
 * function rejects with `notAFunction(message)`, the message naming the
 * module, the export and what the module does export.
 */
export function importFunction<F extends Exported>(
  specifier: string,
  exportName: string,
  notAFunction: (message: string) => Error = (message) => new TypeError(message),
): Promise<F> {
  const key = `${specifier}#${exportName}`;
  let fn = imported.get(key);
  if (!fn) {
    fn = registerThreadLoaders()
      .then(() => import(specifier))
      .then((module: Record<string, unknown>) => {
        const exported = module[exportName];
        if (typeof exported !== "function") throw notAFunction(whyNotAFunction(specifier, exportName, module));
        return exported as Exported;
      });
    fn.catch(() => imported.delete(key));
    imported.set(key, fn);
  }
  return fn as Promise<F>;
}

/** Why `exportName` of `module` is no function: it is missing (the exports are listed), or it is a value of another kind. */
function whyNotAFunction(specifier: string, exportName: string, module: Record<string, unknown>): string {
  const names = Object.keys(module);
  if (!Object.hasOwn(module, exportName))
    return `module ${specifier} has no export "${exportName}" (exports: ${names.join(", ") || "none"})`;
  const value = module[exportName];
  const type = typeof value;
  const kind =
    value === null || value === undefined
      ? String(value)
      : Array.isArray(value)
        ? "an array"
        : `${type === "object" ? "an" : "a"} ${type}`;
  const functions = names.filter((name) => typeof module[name] === "function");
  return `module ${specifier} exports "${exportName}" as ${kind}, not a function (its function exports: ${functions.join(", ") || "none"})`;
}
