/**
 * npm run bench [-- CASE ...]: runs the cases side by side, prints a markdown
 * table per case and writes every figure to bench/results/latest.json. It
 * measures; it never fails a build on a figure.
 */
import { execSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CASES } from "./cases/index.js";
import type { CaseResult, Row } from "./bench-case.js";

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !CASES.some((c) => c.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown case ${unknown.join(", ")}; cases: ${CASES.map((c) => c.name).join(", ")}\n`);
  process.exit(2);
}
const selected = wanted.length === 0 ? CASES : CASES.filter((c) => wanted.includes(c.name));

function table(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [`| ${columns.join(" | ")} |`, `| ${columns.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${columns.map((c) => String(row[c] ?? "")).join(" | ")} |`);
  return lines.join("\n");
}

const results: Record<string, CaseResult & { workload: string; error?: string }> = {};
for (const bench of selected) {
  process.stdout.write(`\n## ${bench.name}\n\n${bench.workload}\n\n`);
  try {
    const result = await bench.run();
    results[bench.name] = { workload: bench.workload, ...result };
    if (result.rows.length) process.stdout.write(`${table(result.rows)}\n\n`);
    for (const r of result.ratios) process.stdout.write(`- ${r.name}: **${r.value}**${r.goal ? ` (goal ${r.goal}: ${r.met ? "met" : "missed"})` : ""}\n`);
    for (const note of result.notes) process.stdout.write(`- ${note}\n`);
  } catch (error) {
    results[bench.name] = { workload: bench.workload, rows: [], ratios: [], notes: [], error: String((error as Error).stack ?? error) };
    process.stdout.write(`failed to run: ${(error as Error).message}\n`);
  }
}

let commit = "unknown";
try {
  commit = execSync("git rev-parse --short HEAD", { encoding: "utf8" }).trim();
} catch {
  // not a checkout
}
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../../bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, "latest.json"),
  JSON.stringify({ date: new Date().toISOString(), commit, node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, results }, null, 2),
);
process.stdout.write(`\nfigures written to ${path.join(out, "latest.json")}\n`);
