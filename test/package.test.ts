/**
 * The package as published: `npm pack` of this tree (built already; only
 * files compiled from sources that still exist), the
 * tarball installed into an empty folder from the npm cache
 * (--prefer-offline: no network when the dependencies are cached), then its
 * CLI's `demo`, and a dashboard served from the installed files.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { programPath } from "./support/peers.js";

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NPM = programPath("npm");

describe("the published package", { skip: NPM === undefined ? "needs npm on PATH" : undefined }, () => {
  it("packs, installs into an empty folder, runs its demo and serves its dashboard's assets", async (t) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-package-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The tree is built (npm test builds first): skip `prepare`, which would build it again.
    const { stdout: packed } = await run(NPM!, ["pack", "--json", "--ignore-scripts", "--pack-destination", dir], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const [contents] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
    const tarball = path.join(dir, contents.filename);
    assert.ok(existsSync(tarball), `npm pack wrote ${tarball}`);
    // tsc never deletes: a compiled file whose source is gone would ship (and run in npm test) unless the build empties dist/ first.
    const orphans = contents.files
      .map((f) => f.path)
      .filter(
        (p) =>
          /^dist\/.*\.js$/.test(p) && !existsSync(path.join(ROOT, p.slice("dist/".length).replace(/\.js$/, ".ts"))),
      );
    assert.deepEqual(
      orphans,
      [],
      "compiled files without a source in the package (npm run build empties dist/ before compiling)",
    );
    const app = path.join(dir, "app");
    await run("mkdir", [app]);
    writeFileSync(
      path.join(app, "package.json"),
      JSON.stringify({ name: "glimpse-package-test", version: "1.0.0", private: true, type: "module" }),
    );
    await run(NPM!, ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball], {
      cwd: app,
      timeout: 120_000,
    });
    const installed = path.join(app, "node_modules", "glimpse-cluster");
    assert.deepEqual(readdirSync(path.join(installed, "dashboard")).sort(), [
      "dashboard.css",
      "dashboard.js",
      "favicon.svg",
      "index.html",
    ]);
    assert.ok(existsSync(path.join(installed, "deploy", "glimpse-worker.service")));

    const demo = await run(path.join(app, "node_modules", ".bin", "glimpse-cluster"), ["demo"], {
      cwd: app,
      timeout: 60_000,
    });
    assert.match(demo.stdout, /hex over \[1, 2, 3\]: \["0x1","0x2","0x3"\]/);
    assert.match(demo.stdout, /done: everything shut down/);

    const script = [
      'import { MakePool } from "glimpse-cluster";',
      "const pool = await MakePool(undefined, { local: { workers: 1, threads: 1 }, dashboard: true });",
      "try {",
      '  for (const asset of ["", "dashboard.js", "dashboard.css", "favicon.svg"]) console.log(asset || "page", (await fetch(pool.dashboardUrl + asset)).status);',
      "} finally { await pool.close(); }",
    ].join("\n");
    writeFileSync(path.join(app, "dashboard-check.mjs"), script);
    const served = await run(process.execPath, ["dashboard-check.mjs"], { cwd: app, timeout: 60_000 });
    assert.equal(served.stdout, "page 200\ndashboard.js 200\ndashboard.css 200\nfavicon.svg 200\n");
  });
});
