/**
 * What a module function's import says when the export is not a function: missing (with the module's
 * exports), or a value of another kind (with the module's function exports), for moduleFunction on the
 * nodes and serve's module executor alike.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { importFunction } from "../lib/threads/module-export.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-module-export-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("importFunction", () => {
  const file = path.join(dir, "tasks.mjs");
  writeFileSync(
    file,
    "export const answer = 42;\nexport const table = {};\nexport function double(x) { return 2 * x; }\n",
  );
  const url = pathToFileURL(file).href;

  it("gives the export that is a function", async () => {
    const double = await importFunction<(x: number) => number>(url, "double");
    assert.equal(double(21), 42);
  });

  it("an export of another kind is said as what it is, with the module's function exports", async () => {
    await assert.rejects(importFunction(url, "answer"), {
      name: "TypeError",
      message: `module ${url} exports "answer" as a number, not a function (its function exports: double)`,
    });
    await assert.rejects(importFunction(url, "table"), {
      message: `module ${url} exports "table" as an object, not a function (its function exports: double)`,
    });
  });

  it("a missing export lists what the module exports", async () => {
    await assert.rejects(importFunction(url, "triple"), {
      name: "TypeError",
      message: `module ${url} has no export "triple" (exports: answer, double, table)`,
    });
  });
});
