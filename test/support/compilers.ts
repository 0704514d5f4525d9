/**
 * The TypeScript compilers users run, for the tests of shipped functions:
 * test/fixtures/shipped-constructs.ts compiled by tsc (typescript's
 * transpileModule, as ts-node's transpile-only mode runs it) and by swc
 * (@swc/core, as ts-node's swc mode and @swc/register run it) into a
 * directory whose node_modules is this project's (so tslib and @swc/helpers
 * resolve, as in a user's project), then imported; and the runners tsx and
 * ts-node, started as processes on a script there.
 *
 *   compiledVariants(dir) ──► [{ name, cases }]   each a real compiler's output of the fixture, loaded
 *   runnerScript(dir, ...)  ──► a script for tsx / ts-node that maps the fixture on a cluster
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";

const require = createRequire(import.meta.url);
/** This project's root (tests run from dist/test). */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const FIXTURE_SOURCE = readFileSync(path.join(ROOT, "test/fixtures/shipped-constructs.ts"), "utf8");

export type Cases = Record<string, (x: number) => unknown>;

export interface Variant {
  readonly name: string;
  readonly cases: Cases;
}

/** A directory for compiled code whose node_modules is this project's. */
export function linkNodeModules(dir: string): void {
  mkdirSync(dir, { recursive: true });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
}

function tsc(target: keyof typeof ts.ScriptTarget, module: "CommonJS" | "ESNext", importHelpers = false): string {
  return ts.transpileModule(FIXTURE_SOURCE, {
    compilerOptions: {
      target: ts.ScriptTarget[target],
      module: ts.ModuleKind[module],
      downlevelIteration: true,
      importHelpers,
      esModuleInterop: true,
    },
  }).outputText;
}

function swc(target: string, module: "commonjs" | "es6", externalHelpers: boolean): string {
  const core = require("@swc/core") as typeof import("@swc/core");
  return core.transformSync(FIXTURE_SOURCE, {
    filename: "shipped-constructs.ts",
    swcrc: false,
    module: { type: module },
    jsc: { target: target as "es5", externalHelpers, parser: { syntax: "typescript" } },
  }).code;
}

const COMPILED: readonly { name: string; file: string; code: () => string }[] = [
  { name: "tsc ES5 CommonJS", file: "tsc-es5.cjs", code: () => tsc("ES5", "CommonJS") },
  {
    name: "tsc ES2016 CommonJS importHelpers",
    file: "tsc-es2016-tslib.cjs",
    code: () => tsc("ES2016", "CommonJS", true),
  },
  {
    name: "tsc ES2017 ES module importHelpers",
    file: "tsc-es2017-tslib.mjs",
    code: () => tsc("ES2017", "ESNext", true),
  },
  { name: "tsc ES2020 ES module", file: "tsc-es2020.mjs", code: () => tsc("ES2020", "ESNext") },
  { name: "swc es5 inline helpers", file: "swc-es5.cjs", code: () => swc("es5", "commonjs", false) },
  {
    name: "swc es2015 CommonJS externalHelpers",
    file: "swc-es2015-ext.cjs",
    code: () => swc("es2015", "commonjs", true),
  },
  { name: "swc es2018 ES module externalHelpers", file: "swc-es2018-ext.mjs", code: () => swc("es2018", "es6", true) },
];

/** The fixture as each compiler (and this project's own build, tsc ES2022) emits it, loaded. */
export async function compiledVariants(dir: string): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const { name, file, code } of COMPILED) {
    const target = path.join(dir, file);
    writeFileSync(target, code());
    const module = (await import(pathToFileURL(target).href)) as { cases: Cases };
    variants.push({ name, cases: module.cases });
  }
  const built = (await import("../fixtures/shipped-constructs.js")) as { cases: Cases };
  variants.push({ name: "tsc ES2022 ES module (this project's build)", cases: built.cases });
  return variants;
}

/** What a runner script prints for each case: what the function gives here, and what a worker gave or why the pool refused it. */
export interface RunnerOutcome {
  readonly local: unknown;
  readonly remote?: unknown;
  readonly refused?: string;
}

const GLIMPSE = pathToFileURL(path.join(ROOT, "dist/lib/index.js")).href;

/** Maps each case of `cases` on `pool` (body shared by the ES module and CommonJS runners). */
const MAP_CASES = `
  const out = {};
  await Promise.all(
    Object.entries(cases).map(async ([name, fn]) => {
      const local = await fn(5);
      try {
        out[name] = { local, remote: (await pool.map(fn, [5]))[0] };
      } catch (error) {
        out[name] = { local, refused: error.message };
      }
    }),
  );`;

/** Marks the line of the tsx runner's `throw`. */
export const THROW_MARKER = "// the thrown line";

/**
 * A tsx script (ES module) in `dir`: maps the fixture's cases on the cluster
 * of the config file given as its argument, then a `.ts` module function,
 * then a function that throws (`thrower`, whose `new Error` is on the line
 * holding THROW_MARKER), and prints one JSON object.
 */
export function writeTsxRunner(dir: string): string {
  linkNodeModules(dir);
  writeFileSync(path.join(dir, "constructs.mts"), FIXTURE_SOURCE);
  writeFileSync(
    path.join(dir, "module-function.mts"),
    `import path from "node:path";\nexport function describe(x: number): string {\n  const twice = (y: number): number => y * 2;\n  return path.posix.join("items", String(twice(x)));\n}\n`,
  );
  const script = path.join(dir, "runner.mts");
  writeFileSync(
    script,
    `import { MakePool, moduleFunction } from "${GLIMPSE}";
import { cases } from "./constructs.mts";
function thrower(x: number): number {
  if (x > 0) throw new Error("thrown at " + x); ${THROW_MARKER}
  return x;
}
const pool = await MakePool(process.argv[2]);
try {${MAP_CASES}
  const describe = moduleFunction<number, string>(new URL("./module-function.mts", import.meta.url), "describe");
  out.moduleFunction = await pool.map(describe, [1, 2]);
  try {
    await pool.map(thrower, [1]);
  } catch (error) {
    out.stack = error.cause.stack.split("\\n")[1].trim();
  }
  console.log(JSON.stringify(out));
} finally {
  await pool.close();
}
`,
  );
  return script;
}

/** A ts-node script (CommonJS, compiled for ES2016 by tsc or by swc) in `dir`, with its tsconfig; prints one JSON object. */
export function writeTsNodeRunner(dir: string, compiler: "tsc" | "swc"): { script: string; project: string } {
  linkNodeModules(dir);
  writeFileSync(path.join(dir, "constructs.cts"), FIXTURE_SOURCE);
  const project = path.join(dir, `tsconfig.${compiler}.json`);
  writeFileSync(
    project,
    JSON.stringify({
      ...(compiler === "swc" ? { "ts-node": { swc: true } } : {}),
      compilerOptions: { target: "ES2016", module: "nodenext", moduleResolution: "nodenext", lib: ["ESNext"] },
    }),
  );
  const script = path.join(dir, "runner.cts");
  writeFileSync(
    script,
    `const { cases } = require("./constructs.cts");
async function main() {
  const { MakePool } = await import("${GLIMPSE}");
  const pool = await MakePool(process.argv[2]);
  try {${MAP_CASES}
    console.log(JSON.stringify(out));
  } finally {
    await pool.close();
  }
}
void main();
`,
  );
  return { script, project };
}
