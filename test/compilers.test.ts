/**
 * Functions compiled by the TypeScript compilers users run ship as source,
 * against each job server kind: tsc and swc output (each at targets that
 * make them emit helpers), and processes run by tsx and ts-node. A worker
 * must compute what the function computes in the caller's process; what
 * cannot be provided is refused with the exact advice. Under tsx a `.ts`
 * module function runs on nodes started with NODE_OPTIONS="--import tsx",
 * and a remote stack points at the runner's `.ts` line. ts-node, whose
 * output is tsc's or swc's (tested on every kind), runs as a process on the
 * embedded kind only, to keep the suite short.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { RemoteError, type ClusterPool } from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import {
  ROOT,
  THROW_MARKER,
  compiledVariants,
  linkNodeModules,
  writeTsNodeRunner,
  writeTsxRunner,
  type RunnerOutcome,
  type Variant,
} from "./support/compilers.js";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");
const TS_NODE = path.join(ROOT, "node_modules/ts-node/register/transpile-only.js");

const TEMPLATE_REFUSED =
  'map function: taggedTemplate uses "_templateObject" from its enclosing scope, which does not exist on the workers. ' +
  '"_templateObject" is a function swc writes beside the shipped one to hold a tagged template\'s strings when it compiles for ES5, ' +
  "which the workers do not provide: compile for ES2015 or later (jsc.target), or use no tagged template in the shipped function.";

/** The cases each compiler's output cannot ship, with the message. */
const REFUSED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "swc es5 inline helpers": { taggedTemplate: TEMPLATE_REFUSED },
};

/**
 * Cases a compiler's own output gets wrong in the caller's process, with what it gives there and what the
 * worker computes: swc's inline helpers (at ES5, and under ts-node) copy _ts_dispose_resources without the _SuppressedError it
 * calls, so a disposal failure after another throws a ReferenceError; the workers run @swc/helpers' own.
 */
const SWC_INLINE_FAULTS = {
  usingErrors: { local: "_SuppressedError is not defined", remote: ["outer", ["inner", "body 5 object object"]] },
};
const LOCAL_FAULTS: Readonly<Record<string, Readonly<Record<string, { local: unknown; remote: unknown }>>>> = {
  "swc es5 inline helpers": SWC_INLINE_FAULTS,
  "ts-node swc": SWC_INLINE_FAULTS,
};

function checkOutcomes(variant: string, outcomes: Record<string, RunnerOutcome>, caseNames: readonly string[]): void {
  const refused = REFUSED[variant] ?? {};
  const faults = LOCAL_FAULTS[variant] ?? {};
  for (const name of caseNames) {
    const outcome = outcomes[name];
    assert.ok(outcome, `${variant}: ${name} was not run`);
    if (refused[name]) assert.equal(outcome.refused, refused[name], `${variant}: ${name}`);
    else if (faults[name]) assert.deepEqual(outcome, faults[name], `${variant}: ${name}`);
    else assert.deepEqual(outcome, { local: outcome.local, remote: outcome.local }, `${variant}: ${name}`);
  }
}

let dir: string;
let variants: Variant[];
let caseNames: string[];

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-compilers-"));
  linkNodeModules(dir);
  variants = await compiledVariants(dir);
  caseNames = Object.keys(variants[0].cases);
});

after(() => rmSync(dir, { recursive: true, force: true }));

for (const kind of jobServerKinds()) {
  describe(`functions compiled from TypeScript, on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      // As docs/functions.md tells for a node that runs .ts module functions: tsx resolvable from its directory.
      await cluster.startNode(2, [], undefined, { env: { ...process.env, NODE_OPTIONS: "--import tsx" }, cwd: ROOT });
      pool = await cluster.pool();
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
    });

    it("tsc's and swc's output ships, helpers and all, and computes on a worker what it computes here", async () => {
      for (const variant of variants) {
        const outcomes: Record<string, RunnerOutcome> = {};
        await Promise.all(
          Object.entries(variant.cases).map(async ([name, fn]) => {
            const local = await fn(5);
            try {
              outcomes[name] = { local, remote: (await pool.map(fn, [5]))[0] };
            } catch (error) {
              outcomes[name] = { local, refused: (error as Error).message };
            }
          }),
        );
        checkOutcomes(variant.name, outcomes, caseNames);
      }
    });

    it("a remote stack of a function shipped from this file points at its line here; remoteStack keeps the worker's", async () => {
      function thrower(x: number): number {
        if (x > 1) throw new RangeError(`too big: ${x}`); // stack-marker
        return x;
      }
      const error = (await pool.map(thrower, [1, 2]).catch((e: unknown) => e)) as RemoteError;
      assert.ok(error instanceof RemoteError);
      const compiled = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n");
      const line = compiled.findIndex((l) => l.includes(["stack", "marker"].join("-")));
      const column = compiled[line].indexOf("new RangeError") + 1;
      assert.equal(
        (error.cause as Error).stack!.split("\n")[1],
        `    at thrower (${import.meta.url}:${line + 1}:${column})`,
      );
      assert.match(error.remoteStack!.split("\n")[1], /^ {4}at thrower \(glimpse-function:[0-9a-f]{64}:\d+:\d+\)$/);
    });

    it("under tsx: functions ship, a .ts module function runs, a remote stack points at the .ts line", async () => {
      const script = writeTsxRunner(path.join(dir, `tsx-${kind.name}`));
      const { stdout } = await run(process.execPath, [TSX, script, cluster.configFile], { cwd: ROOT });
      const out = JSON.parse(stdout) as Record<string, RunnerOutcome> & { moduleFunction: string[]; stack: string };
      checkOutcomes("tsx", out, caseNames);
      assert.deepEqual(out.moduleFunction, ["items/2", "items/4"]);
      const lines = readFileSync(script, "utf8").split("\n");
      const line = lines.findIndex((l) => l.includes(THROW_MARKER));
      const column = lines[line].indexOf("new Error") + 1;
      assert.equal(out.stack, `at thrower (${pathToFileURL(script).href}:${line + 1}:${column})`);
    });

    // ts-node's output is tsc's or swc's, tested above on every kind: its runs as a process go through one.
    for (const compiler of ["tsc", "swc"] as const) {
      const skip = kind.name === "embedded" ? undefined : "ts-node runs on the embedded kind only";
      it(`under ts-node (${compiler}, ES2016): functions ship`, { skip }, async () => {
        const { script, project } = writeTsNodeRunner(path.join(dir, `ts-node-${compiler}-${kind.name}`), compiler);
        const { stdout } = await run(process.execPath, ["-r", TS_NODE, script, cluster.configFile], {
          cwd: path.dirname(script),
          env: { ...process.env, TS_NODE_PROJECT: project },
        });
        checkOutcomes(`ts-node ${compiler}`, JSON.parse(stdout) as Record<string, RunnerOutcome>, caseNames);
      });
    }
  });
}
