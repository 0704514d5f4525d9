/** imap over lazily generated items: client peak RSS for 500,000 and 5,000,000 items (bounded memory means about equal). */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ratio, round, type BenchCase } from "../bench-case.js";

const SCRIPT = fileURLToPath(new URL("../imap-memory-run.js", import.meta.url));

function peakRss(items: number): { peakMb: number; seconds: number } {
  const result = spawnSync(process.execPath, [SCRIPT, String(items)], { encoding: "utf8", timeout: 600_000 });
  if (result.status !== 0) throw new Error(`imap run failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!);
}

export const imapMemory: BenchCase = {
  name: "imap-memory",
  workload:
    "pool.imap(x => x * 2) over a generator of N numbers on a local cluster (1 node × 2 threads, chunksize 1000, default window), each run in a fresh client process; peak RSS of the client (its embedded job server included)",
  budgetSeconds: 120,
  async run() {
    const small = peakRss(500_000);
    const large = peakRss(5_000_000);
    return {
      rows: [
        {
          contender: "glimpse-cluster imap",
          setting: "500,000 items",
          "client peak RSS MB": round(small.peakMb),
          seconds: round(small.seconds, 2),
        },
        {
          contender: "glimpse-cluster imap",
          setting: "5,000,000 items",
          "client peak RSS MB": round(large.peakMb),
          seconds: round(large.seconds, 2),
        },
      ],
      ratios: [
        ratio("peak RSS 5M / 500k", large.peakMb / small.peakMb, { text: "≈ 1 (bounded)", met: (v) => v < 1.3 }),
        ratio("peak RSS MB at 5M", large.peakMb, { text: "≤ 150", met: (v) => v <= 150 }),
      ],
      notes: [],
    };
  },
};
