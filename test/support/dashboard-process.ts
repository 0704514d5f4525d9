/** `glimpse-cluster dashboard` as a child process: started through the CLI, its URL read from its first line. */
import { spawn, type ChildProcess } from "node:child_process";
import { CLI_PATH } from "./job-servers.js";

export interface DashboardProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  /** SIGINT, SIGKILL after 5 s. */
  stop(): Promise<void>;
}

export async function startDashboard(configFile: string, args: string[] = []): Promise<DashboardProcess> {
  const child = spawn(process.execPath, [CLI_PATH, "-c", configFile, "dashboard", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.kill("SIGINT");
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /dashboard on (\S+)\n/.exec(stdout);
        if (match) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`dashboard exited (${code}) before serving:\n${stdout}${stderr}`)));
    });
    return { url, child, stderr: () => stderr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
