/**
 * The runnable examples of README.md and docs/*.md, run as a user would run
 * them, so a document cannot drift from the tool. A fenced block is runnable
 * when the line before it (blank lines aside) is `<!-- runnable -->`:
 *
 *   ```sh   lines starting with "$ " are commands, run one after another in
 *           one bash; the lines after each are its expected output (stdout
 *           and stderr together), where "..." in a line stands for any text
 *           and a line of "..." alone for any lines. A block without "$ "
 *           lines is a script run with `set -e`: it must exit 0.
 *   ```ts / ```js   an ES module (TypeScript compiled by transpileModule) that
 *           must exit 0; `import ... from "glimpse-cluster"` is this package.
 *
 * Every block runs in a directory of its own holding `config.ini` (and the
 * same as `cluster.ini`) for a running cluster on this machine: an embedded
 * job server, a broker and one worker node of two threads, on free ports;
 * `glimpse-cluster` is on PATH. Blocks that need several machines are not
 * marked: the several-machine walk-through has its own test on network
 * namespaces.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { CLI_PATH, embedded } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { cliOnPath } from "./support/cli-run.js";

const ROOT = path.resolve(path.dirname(CLI_PATH), "../..");
const MARKER = /^<!--\s*runnable\s*-->$/;

interface Block {
  readonly file: string;
  /** Line of the opening fence, from 1. */
  readonly line: number;
  readonly lang: string;
  readonly text: string;
}

/** The runnable blocks of one Markdown file. */
function runnableBlocks(file: string): Block[] {
  const lines = readFileSync(file, "utf8").split("\n");
  const blocks: Block[] = [];
  let marked = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (MARKER.test(line)) {
      marked = true;
      continue;
    }
    const fence = /^```(\w*)/.exec(line);
    if (fence) {
      const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
      assert.ok(end > i, `${file}:${i + 1}: a fence that is never closed`);
      if (marked) blocks.push({ file, line: i + 1, lang: fence[1], text: lines.slice(i + 1, end).join("\n") });
      marked = false;
      i = end;
      continue;
    }
    if (line !== "") marked = false;
  }
  return blocks;
}

const documents = [
  path.join(ROOT, "README.md"),
  ...readdirSync(path.join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => path.join(ROOT, "docs", f)),
];
const blocks = documents.flatMap(runnableBlocks);

interface Run {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a program in `cwd` with `glimpse-cluster` on PATH; stdout and stderr together, in order. */
function run(command: string, args: readonly string[], cwd: string, bin: string): Promise<Run> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("GLIMPSE_CLUSTER_")));
  const child = spawn(command, args, {
    cwd,
    env: { ...env, PATH: `${bin}:${env.PATH}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group: whatever a block leaves behind is stopped with it
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 120_000);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        // the group is gone
      }
      resolve({ code, output });
    }),
  );
}

/** Whether `actual` lines match `expected` ones: "..." in a line is any text; a line of "..." is any lines. */
function matches(expected: readonly string[], actual: readonly string[]): boolean {
  if (expected.length === 0) return actual.length === 0;
  const [first, ...rest] = expected;
  if (first.trim() === "...") {
    for (let skip = 0; skip <= actual.length; skip++) if (matches(rest, actual.slice(skip))) return true;
    return false;
  }
  if (actual.length === 0) return false;
  const pattern = new RegExp(
    `^${first
      .split("...")
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return pattern.test(actual[0].trimEnd()) && matches(rest, actual.slice(1));
}

/** A transcript's commands and the output each is expected to print. */
function transcript(text: string): { command: string; expected: string[] }[] {
  const steps: { command: string; expected: string[] }[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), expected: [] });
    else if (steps.length > 0) steps[steps.length - 1].expected.push(line);
  }
  for (const step of steps)
    while (step.expected.length > 0 && step.expected[step.expected.length - 1] === "") step.expected.pop();
  return steps;
}

/** Printed before each command of a transcript, to cut the output into each command's own. */
const STEP = "@@glimpse-docs-step@@";

describe("the documents' runnable examples", { skip: embedded.skip }, () => {
  let cluster: TestCluster;
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-docs-"));
  const bin = cliOnPath(dir);
  before(async () => {
    cluster = await TestCluster.start({ kind: embedded });
    await cluster.startNode(2);
  });
  after(async () => {
    await cluster?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh directory for one block: the cluster's config as config.ini and cluster.ini, and this package installed. */
  function workspace(block: Block): string {
    const at = mkdtempSync(path.join(dir, `${path.basename(block.file, ".md")}-${block.line}-`));
    copyFileSync(cluster.configFile, path.join(at, "config.ini"));
    copyFileSync(cluster.configFile, path.join(at, "cluster.ini"));
    mkdirSync(path.join(at, "node_modules"));
    symlinkSync(ROOT, path.join(at, "node_modules", "glimpse-cluster"), "dir");
    return at;
  }

  it("there are runnable examples to run", () => {
    assert.ok(blocks.length >= 4, `found ${blocks.length}`);
  });

  for (const block of blocks) {
    const name = `${path.relative(ROOT, block.file)}:${block.line} (${block.lang})`;
    it(name, async () => {
      const cwd = workspace(block);
      if (block.lang === "sh" || block.lang === "console") {
        const steps = transcript(block.text);
        if (steps.length === 0) {
          const result = await run("bash", ["-e", "-c", block.text], cwd, bin);
          assert.equal(result.code, 0, `${name} exited ${result.code}:\n${result.output}`);
          return;
        }
        // The marker keeps the previous command's status for the next one ("echo $?").
        const script = steps
          .map((step) => `glimpse_status=$?; echo ${STEP}; (exit $glimpse_status)\n${step.command}`)
          .join("\n");
        const result = await run("bash", ["-c", `exec 2>&1\n${script}`], cwd, bin);
        const outputs = result.output.split(`${STEP}\n`).slice(1);
        assert.equal(outputs.length, steps.length, `${name}: not every command ran:\n${result.output}`);
        steps.forEach((step, i) => {
          const actual = outputs[i]
            .replace(/\n$/, "")
            .split("\n")
            .filter((line, j, all) => !(line === "" && all.length === 1));
          assert.ok(
            matches(step.expected, actual),
            `${name}: $ ${step.command}\nexpected:\n${step.expected.join("\n")}\nprinted:\n${actual.join("\n")}`,
          );
        });
        return;
      }
      assert.ok(["ts", "js"].includes(block.lang), `${name}: a runnable block is sh, ts or js`);
      const source =
        block.lang === "ts"
          ? ts.transpileModule(block.text, {
              compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
            }).outputText
          : block.text;
      writeFileSync(path.join(cwd, "example.mjs"), source);
      const result = await run(process.execPath, ["example.mjs"], cwd, bin);
      assert.equal(result.code, 0, `${name} exited ${result.code}:\n${result.output}`);
    });
  }
});
