/** The glimpse-cluster command run as users run it: a child process, its exit code and both outputs. */
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { CLI_PATH } from "./job-servers.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { env: { ...process.env, ...options.env }, cwd: options.cwd, timeout: options.timeoutMs ?? 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * A directory holding a `glimpse-cluster` executable that runs this build,
 * as an installed package puts one on PATH; made under `parent`. Prepend it
 * to PATH for shell commands written as users type them.
 */
export function cliOnPath(parent: string): string {
  const bin = path.join(parent, "bin");
  mkdirSync(bin, { recursive: true });
  writeFileSync(
    path.join(bin, "glimpse-cluster"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI_PATH)} "$@"\n`,
    { mode: 0o755 },
  );
  return bin;
}
