/** CPU time and memory of a process, read from Linux /proc (any process we may read, ourselves included). */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat times (USER_HZ; 100 unless getconf says otherwise). */
const TICKS_PER_SECOND = (() => {
  const out = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const ticks = Number(out.stdout?.trim());
  return out.status === 0 && ticks > 0 ? ticks : 100;
})();

function readProc(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch (error) {
    throw new Error(
      `cannot read /proc/${pid}/${file} (process ${pid} gone, or not Linux): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** CPU seconds (user + system) process `pid` has used so far, its own threads included. */
export function cpuSeconds(pid: number): number {
  const stat = readProc(pid, "stat");
  // Fields after the parenthesised command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime))
    throw new Error(`/proc/${pid}/stat: no utime/stime in ${JSON.stringify(stat.slice(0, 120))}`);
  return (utime + stime) / TICKS_PER_SECOND;
}

export interface Memory {
  /** Resident set size now (VmRSS), MB. */
  readonly rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  readonly peakMb: number;
}

/** Resident memory of process `pid` now and at its peak. */
export function memory(pid: number): Memory {
  const status = readProc(pid, "status");
  const mb = (field: string) => {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    if (kb === undefined) throw new Error(`/proc/${pid}/status has no ${field} line`);
    return Number(kb) / 1024;
  };
  return { rssMb: mb("VmRSS"), peakMb: mb("VmHWM") };
}

/** `pid` and every process descended from it now, found through each process's parent in /proc/PID/stat. */
export function processTree(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone since the directory was read
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++)
    for (const [child, parent] of parentOf) if (parent === tree[i]) tree.push(child);
  return tree;
}

/** CPU time of the whole machine so far, from /proc/stat's first line, in clock ticks: idle (iowait included) and all. */
export function machineTicks(): { readonly idle: number; readonly total: number } {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user and nice)
  const counted = fields.slice(0, 8);
  return { idle: counted[3] + counted[4], total: counted.reduce((a, b) => a + b, 0) };
}
