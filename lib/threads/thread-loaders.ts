/**
 * tsx's hooks in the threads of a process run with tsx. Node gives a worker
 * thread the hooks that `--loader` installs, but tsx installs its own from an
 * `--import` module with module.register(), and before Node 22.22.3 and
 * 24.11.1 only on the main thread. So a thread of a process run by `tsx` or
 * `node --import tsx` (flags or NODE_OPTIONS) registers tsx's ESM and
 * CommonJS hooks itself, from the same tsx installation, before it imports a
 * user's module: a `.ts` module function then loads on a worker node's
 * threads as on its main thread. Where tsx did register in the thread too,
 * its hooks run twice in a chain, which loads the same modules.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL, fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";

let registered: Promise<void> | undefined;

/** Where the process's tsx is, from its module-loading flags: its loader's path, or `cwd` for a bare `tsx`. */
function tsxBase(flags: readonly string[]): string | undefined {
  for (let i = 0; i < flags.length; i++) {
    const [flag, inline] = flags[i].split(/=(.*)/s, 2);
    if (flag !== "--import" && flag !== "--require" && flag !== "-r") continue;
    const value = inline ?? flags[++i] ?? "";
    if (value === "tsx" || value.startsWith("tsx/")) return path.join(process.cwd(), "package.json");
    if (/[/\\]tsx[/\\]dist[/\\]/.test(value)) return value.startsWith("file:") ? fileURLToPath(value) : value;
  }
  return undefined;
}

/** The file tsx's package exports as `subpath` under the "import" condition. */
function tsxExport(require: NodeJS.Require, subpath: string): string {
  const manifestPath = require.resolve("tsx/package.json");
  const manifest = require(manifestPath) as { exports: Record<string, { import?: { default?: string } }> };
  const target = manifest.exports[subpath]?.import?.default;
  if (!target) throw new Error(`tsx at ${path.dirname(manifestPath)} exports no ${subpath} for import`);
  return pathToFileURL(path.join(path.dirname(manifestPath), target)).href;
}

async function registerTsx(base: string): Promise<void> {
  const require = createRequire(base);
  for (const api of ["./esm/api", "./cjs/api"]) {
    const module = (await import(tsxExport(require, api))) as { register: () => unknown };
    module.register();
  }
}

/** Registers tsx's hooks in this thread when it is not the main one and the process runs with tsx; once per thread. */
export function registerThreadLoaders(): Promise<void> {
  if (registered) return registered;
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/).filter(Boolean)];
  const base = isMainThread ? undefined : tsxBase(flags);
  registered = base === undefined ? Promise.resolve() : registerTsx(base);
  return registered;
}
