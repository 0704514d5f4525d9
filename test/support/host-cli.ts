/**
 * The glimpse-cluster command run on a simulated host (netns.ts), as an
 * operator runs it there: its exit status and both outputs.
 */
import type { SimulatedHost } from "./netns.js";
import { CLI_PATH } from "./job-servers.js";

export interface HostRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** The whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed after this long (default 60 s). */
  readonly limitMs?: number;
}

/** Runs `command args...` on `host`. */
export function runOn(
  host: SimulatedHost,
  command: string,
  args: readonly string[],
  { env = process.env, cwd, limitMs = 60_000 }: RunOptions = {},
): Promise<HostRun> {
  const child = host.spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env, cwd });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

/** `glimpse-cluster ARGS...` (this build's CLI) on `host`. */
export function cliOn(host: SimulatedHost, args: readonly string[]): Promise<HostRun> {
  return runOn(host, process.execPath, [CLI_PATH, ...args]);
}
