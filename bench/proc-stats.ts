/** CPU time and memory of a process, read from Linux /proc (any process we may read, ourselves included). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

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
