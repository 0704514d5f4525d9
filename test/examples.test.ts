/**
 * The examples that docs/functions.md teaches, run as a user runs them:
 * under tsx, from this project's source, on a local cluster (MakePool()
 * without a configuration, whose nodes inherit tsx's flags). The blocks of
 * docs/functions.md marked `<!-- example: FILE -->` must be in FILE word for
 * word, so the doc shows code that runs. And code compiled by tsc, run with
 * --enable-source-maps: its remote stacks point at the .ts line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { ROOT } from "./support/compilers.js";

const run = promisify(execFile);
const TSX = path.join(ROOT, "node_modules/tsx/dist/cli.mjs");

describe("the examples docs/functions.md teaches", () => {
  it("examples/hex.ts: the original's hex on a local cluster", async () => {
    const { stdout } = await run(process.execPath, [TSX, "examples/hex.ts"], { cwd: ROOT });
    assert.equal(stdout, "[ '0x1', '0x2', '0x3', '0xff', '0x1000' ]\n");
  });

  it("examples/typescript/main.ts: a function with tsx's helpers, a .ts module function, a stack at the .ts line", async () => {
    const file = path.join(ROOT, "examples/typescript/main.ts");
    const { stdout } = await run(process.execPath, [TSX, file], { cwd: ROOT });
    const lines = readFileSync(file, "utf8").split("\n");
    const line = lines.findIndex((l) => l.includes("throw new RangeError"));
    const column = lines[line].indexOf("new RangeError") + 1;
    assert.equal(
      stdout,
      [
        "[ 'hello-world', 'typescript-on-workers' ]",
        "[ 2, 1 ]",
        "checked(item 1) threw RangeError: negative: -1",
        `at checked (${pathToFileURL(file).href}:${line + 1}:${column})`,
        "",
      ].join("\n"),
    );
  });

  it("with --enable-source-maps, a remote stack points at the .ts line of code compiled by tsc", async () => {
    const source = path.join(ROOT, "test/fixtures/source-mapped-stack.ts");
    const { stdout } = await run(process.execPath, [
      "--enable-source-maps",
      path.join(ROOT, "dist/test/fixtures/source-mapped-stack.js"),
    ]);
    const lines = readFileSync(source, "utf8").split("\n");
    const line = lines.findIndex((l) => l.includes("// the thrown line"));
    const column = lines[line].indexOf("new Error") + 1;
    assert.equal(stdout, `at thrower (${pathToFileURL(source).href}:${line + 1}:${column})\n`);
  });

  it("every block of docs/functions.md marked with an example file is in that file", () => {
    const doc = readFileSync(path.join(ROOT, "docs/functions.md"), "utf8");
    const blocks = [...doc.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)];
    assert.ok(blocks.length >= 3, `found ${blocks.length} marked blocks`);
    for (const [, file, code] of blocks) {
      assert.ok(
        readFileSync(path.join(ROOT, file), "utf8").includes(code),
        `docs/functions.md block not in ${file}:\n${code}`,
      );
    }
  });
});
