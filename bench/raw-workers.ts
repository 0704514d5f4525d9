/**
 * Raw echo workers in a child process (bench/raw-workers-process.ts), so a
 * case's load generator and its workers do not share one event loop, as a
 * job server's clients and workers seldom do. The child is killed with the
 * bench however it exits (job-servers.ts `track`).
 */
import { fork } from "node:child_process";
import { track } from "./job-servers.js";

export interface RawWorkersProcess {
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts `count` raw echo workers for `func` on the server at `port`; resolves once all are registered. */
export async function rawWorkersProcess(port: number, func: string, count: number): Promise<RawWorkersProcess> {
  const child = fork(new URL("./raw-workers-process.js", import.meta.url), [String(port), func, String(count)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const stop = track(child);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code, signal) =>
        reject(new Error(`raw workers for ${func} on port ${port} exited (${code ?? signal}) before they were ready`)),
      );
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { pid: child.pid!, stop };
}
