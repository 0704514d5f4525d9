/**
 * The layers of lib/ and cli/, from the sources' own imports (type-only
 * ones and re-exports included, as TypeScript reads them): no import circle,
 * and no floor that imports a higher one. And what the command loads before
 * a command runs: each command imports the cluster's parts it runs (ZeroMQ,
 * piscina, prom-client, acorn) in its action, so that a worker node's
 * supervisor, a job server or `--help` start without the rest. And small
 * files: none in lib/ or cli/ over MAX_LINES.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Floors, bottom up: a file may import its own directory and lower floors only.
 * lib/*.ts are the helpers every layer uses, except the two files that assemble the package.
 */
const FLOORS: readonly (readonly string[])[] = [
  ["lib"],
  ["lib/gearman", "lib/security", "lib/metrics", "lib/threads"],
  ["lib/wire", "lib/server"],
  ["lib/channels"],
  ["lib/config"],
  ["lib/control"],
  ["lib/node"],
  ["lib/pool", "lib/serve", "lib/dashboard"],
  ["lib/make-pool.ts"],
  ["lib/index.ts"],
  ["cli"],
];

/** The house's limit for one file of lib/ or cli/: past it, a file holds more than one concept. */
const MAX_LINES = 450;

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join("/"));
}

/** Each source file's relative imports, as files of the tree. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of [...sources("lib"), ...sources("cli")]) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(ROOT, file), "utf8"), true, true);
    const imports = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith("."))
      .map((name) => path.posix.join(path.posix.dirname(file), name).replace(/\.js$/, ".ts"));
    graph.set(file, imports);
  }
  return graph;
}

function floorOf(file: string): { floor: number; part: string } {
  const candidates = [file, path.posix.dirname(file), file.split("/").slice(0, 2).join("/"), file.split("/")[0]];
  for (const part of candidates) {
    const floor = FLOORS.findIndex((parts) => parts.includes(part));
    if (floor >= 0) return { floor, part };
  }
  throw new Error(`${file}: on no floor of the layer table`);
}

/** Imports from a floor to a higher one, or to another directory of its own floor. */
function upwardImports(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const wrong: string[] = [];
  for (const [file, imports] of graph) {
    const from = floorOf(file);
    for (const target of imports) {
      const to = floorOf(target);
      if (to.part !== from.part && to.floor >= from.floor)
        wrong.push(`${file} (${from.part}) imports ${target} (${to.part})`);
    }
  }
  return wrong;
}

/** Every circle a depth-first walk closes (a file met again while still on the path). */
function circlesIn(graph: ReadonlyMap<string, readonly string[]>): string[] {
  const state = new Map<string, "open" | "done">();
  const circles: string[] = [];
  const visit = (file: string, trail: string[]): void => {
    state.set(file, "open");
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === "open") circles.push([...trail.slice(trail.indexOf(target)), target].join(" → "));
      else if (!state.has(target)) visit(target, [...trail, target]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
  return circles;
}

/** The packages `entry` loads before any of its code runs: static imports that are values, followed through the tree. */
function packagesLoadedBy(entry: string): Set<string> {
  const packages = new Set<string>();
  const seen = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest);
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      if (ts.isImportDeclaration(statement)) {
        const clause = statement.importClause;
        const named = clause?.namedBindings;
        const typesOnly =
          clause !== undefined &&
          (clause.isTypeOnly ||
            (clause.name === undefined &&
              named !== undefined &&
              ts.isNamedImports(named) &&
              named.elements.length > 0 &&
              named.elements.every((element) => element.isTypeOnly)));
        if (!typesOnly) specifier = statement.moduleSpecifier;
      } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) specifier = statement.moduleSpecifier;
      if (specifier === undefined || !ts.isStringLiteral(specifier)) continue;
      const name = specifier.text;
      if (name.startsWith(".")) walk(path.posix.join(path.posix.dirname(file), name).replace(/\.js$/, ".ts"));
      else if (!name.startsWith("node:")) packages.add(name.split("/")[0]);
    }
  };
  walk(entry);
  return packages;
}

describe("layers of lib/ and cli/", () => {
  const graph = importGraph();

  it("every import resolves to a source file of the tree", () => {
    for (const [file, imports] of graph)
      for (const target of imports) assert.ok(graph.has(target), `${file} imports ${target}, which is not a source`);
    assert.ok(graph.size > 100, `${graph.size} files read`);
  });

  it("no floor imports a higher one, nor a directory beside it", () => {
    assert.deepEqual(upwardImports(graph), []);
  });

  it("no import circle, type-only imports included", () => {
    assert.deepEqual(circlesIn(graph), []);
  });

  it(`no file in lib/ or cli/ is over ${MAX_LINES} lines`, () => {
    const long = [...graph.keys()]
      .map((file) => ({ file, lines: readFileSync(path.join(ROOT, file), "utf8").split("\n").length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `${file}: ${lines} lines`);
    assert.deepEqual(long, []);
  });

  it("the command loads commander and the config reader before a command runs, and nothing of the cluster", () => {
    assert.deepEqual([...packagesLoadedBy("cli/main.ts")].sort(), ["commander", "ini"]);
    // What the command's actions import when they run, for contrast.
    assert.deepEqual([...packagesLoadedBy("lib/index.ts")].sort(), [
      "acorn",
      "acorn-walk",
      "ini",
      "piscina",
      "prom-client",
      "zeromq",
    ]);
  });

  it("the checks find an upward import and a circle where there is one", () => {
    const upward = new Map([
      ["lib/config/channel-options.ts", ["lib/control/cluster-control.ts", "lib/security/curve.ts"]],
      ["lib/gearman/client.ts", ["lib/security/curve.ts"]],
    ]);
    assert.deepEqual(upwardImports(upward), [
      "lib/config/channel-options.ts (lib/config) imports lib/control/cluster-control.ts (lib/control)",
      "lib/gearman/client.ts (lib/gearman) imports lib/security/curve.ts (lib/security)",
    ]);
    const circle = new Map([
      ["lib/a.ts", ["lib/b.ts"]],
      ["lib/b.ts", ["lib/c.ts"]],
      ["lib/c.ts", ["lib/a.ts"]],
    ]);
    assert.deepEqual(circlesIn(circle), ["lib/a.ts → lib/b.ts → lib/c.ts → lib/a.ts"]);
  });
});
