/**
 * A module's named export, imported once per thread: what a worker node's
 * chunk runner calls for a `moduleFunction` and what serve's module runner
 * calls for each job. A failed import is forgotten, so the next task tries
 * again (the module may have been fixed or installed meanwhile).
 */

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
    fn = import(specifier).then((module: Record<string, unknown>) => {
      const exported = module[exportName];
      if (typeof exported !== "function")
        throw notAFunction(
          `module ${specifier} has no function export "${exportName}" (exports: ${Object.keys(module).join(", ") || "none"})`,
        );
      return exported as Exported;
    });
    fn.catch(() => imported.delete(key));
    imported.set(key, fn);
  }
  return fn as Promise<F>;
}
