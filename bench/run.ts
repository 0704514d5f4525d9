/**
 * npm run bench [-- CASE ...]: runs the selected cases (all by default) one
 * after another, prints a markdown table per case and writes every figure to
 * bench/results/latest.json. It measures; it never fails a build on a figure,
 * a missing peer or a failed case (exit status 0; 2 only for an unknown case).
 *
 *   cases/index.ts ─▶ for each case: budget signal ─▶ case.run() ─▶ rows, ratios, notes
 *                                                           │
 *                     stdout (markdown) ◀───────────────────┤
 *                     latest.json (merged per case, machine, date, commit) ◀─┘
 *
 * Every ratio is printed and recorded with the 1-minute load average at the
 * start and at the end of its case: on a shared machine a ratio means little
 * without the load it was measured under.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CASES } from "./cases/index.js";
import { abortable, budgetSignal } from "./budget.js";
import type { BenchCase, CaseResult, Row } from "./bench-case.js";

/** After a case's budget fires, how long it gets to stop its servers before the run moves on. */
const CLEANUP_GRACE_SECONDS = 15;

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS_DIR = path.resolve(here, "../../bench/results");
const LATEST = path.join(RESULTS_DIR, "latest.json");

interface CaseRecord extends Partial<CaseResult> {
  readonly workload: string;
  readonly budgetSeconds: number;
  readonly seconds: number;
  readonly date: string;
  readonly commit: string;
  /** 1-minute load average at the start and at the end of the case. */
  readonly loadAverage: readonly [number, number];
  readonly error?: string;
}

const loadNow = () => Math.round(os.loadavg()[0] * 100) / 100;

function git(...args: string[]): string {
  try {
    return execFileSync("git", args, { cwd: here, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

function gearmandVersion(): string {
  try {
    return execFileSync("/usr/sbin/gearmand", ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
      .trim()
      .split("\n")[0]
      .replace(/ - https:.*/, "");
  } catch {
    return "not installed";
  }
}

function table(rows: readonly Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [`| ${columns.join(" | ")} |`, `| ${columns.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${columns.map((c) => String(row[c] ?? "")).join(" | ")} |`);
  return lines.join("\n");
}

function report(result: CaseResult): string {
  const out: string[] = [];
  if (result.rows.length) out.push(table(result.rows), "");
  for (const r of result.ratios) {
    const goal = r.goal ? ` (goal ${r.goal}: ${r.met ? "met" : "missed"})` : "";
    const load = r.loadAverage ? `, load ${r.loadAverage[0]} → ${r.loadAverage[1]}` : "";
    out.push(`- ${r.name}: **${r.value}**${goal}${load}`);
  }
  for (const note of result.notes) out.push(`- ${note}`);
  return out.join("\n");
}

async function runCase(bench: BenchCase, commit: string): Promise<CaseRecord> {
  const begin = performance.now();
  const date = new Date().toISOString();
  const loadAtStart = loadNow();
  const budget = budgetSignal(bench.name, bench.budgetSeconds);
  const running = bench.run({ signal: budget.signal });
  const base = { workload: bench.workload, budgetSeconds: bench.budgetSeconds, date, commit };
  try {
    const result = await abortable(running, budget.signal);
    const loadAverage = [loadAtStart, loadNow()] as const;
    const ratios = result.ratios.map((r) => ({ ...r, loadAverage }));
    return { ...base, ...result, ratios, loadAverage, seconds: (performance.now() - begin) / 1000 };
  } catch (error) {
    if (budget.signal.aborted) {
      // Give the case its finally blocks (server stops) before going on; whatever is left is killed at exit.
      const grace = budgetSignal(bench.name, CLEANUP_GRACE_SECONDS);
      await abortable(running, grace.signal).catch(() => {});
      grace.clear();
    }
    return {
      ...base,
      loadAverage: [loadAtStart, loadNow()],
      seconds: (performance.now() - begin) / 1000,
      error: String((error as Error)?.stack ?? error),
    };
  } finally {
    budget.clear();
  }
}

function previousResults(): Record<string, CaseRecord> {
  if (!existsSync(LATEST)) return {};
  try {
    return (JSON.parse(readFileSync(LATEST, "utf8")) as { results?: Record<string, CaseRecord> }).results ?? {};
  } catch {
    return {}; // an unreadable old file is replaced
  }
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !CASES.some((c) => c.name === name));
if (unknown.length > 0) {
  process.stderr.write(`unknown case ${unknown.join(", ")}; cases: ${CASES.map((c) => c.name).join(", ")}\n`);
  process.exit(2);
}
const selected = wanted.length === 0 ? CASES : CASES.filter((c) => wanted.includes(c.name));
const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
const commit = `${git("rev-parse", "--short", "HEAD")}${dirty ? "+dirty" : ""}`;
const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? "unknown",
  memoryGb: Math.round(os.totalmem() / 2 ** 30),
  loadAverageAtStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
  kernel: `${os.type()} ${os.release()}`,
  node: process.version,
  gearmand: gearmandVersion(),
};
process.stdout.write(
  `# glimpse-cluster benchmarks\n\n${new Date().toISOString()}, commit ${commit}, ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, ${machine.gearmand}, load ${machine.loadAverageAtStart.join(" ")}\n`,
);

const results = previousResults();
for (const bench of selected) {
  process.stdout.write(`\n## ${bench.name}\n\n${bench.workload}\n\n`);
  const record = await runCase(bench, commit);
  results[bench.name] = record;
  if (record.error) process.stdout.write(`not measured: ${record.error.split("\n")[0]}\n`);
  else process.stdout.write(`${report(record as CaseRecord & CaseResult)}\n`);
  process.stdout.write(
    `\n(${record.seconds.toFixed(1)} s of a ${bench.budgetSeconds} s budget; load average ${record.loadAverage[0]} at the start, ${record.loadAverage[1]} at the end)\n`,
  );
}

mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(
  LATEST,
  `${JSON.stringify({ date: new Date().toISOString(), commit, machine, ran: selected.map((c) => c.name), results }, null, 2)}\n`,
);
process.stdout.write(
  `\nfigures written to ${LATEST}${selected.length < CASES.length ? " (cases not run this time keep their previous figures, each with its own date and commit)" : ""}\n`,
);
// Anything a case left running (a case over budget) is killed by the exit guards; a benchmark never fails the build.
process.exit(0);
