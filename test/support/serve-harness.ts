/** Runs a Serve in the test process on a jobsconfig written to a temporary directory; its log lines are kept. */
import { mkdtempSync, rmSync, writeFileSync, renameSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import net from "node:net";
import { Serve, type ServeOptions } from "../../lib/serve/index.js";

export interface ServeHarness {
  readonly serve: Serve;
  readonly file: string;
  readonly log: string[];
  /** Replaces the jobsconfig (write to a temporary file, then rename, as deploy tools do). */
  write(config: unknown): void;
  close(): Promise<void>;
}

export async function startServe(config: unknown, options: Partial<ServeOptions> = {}): Promise<ServeHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-"));
  const file = path.join(dir, "jobs.json");
  const write = (value: unknown) => {
    const temporary = path.join(dir, `.jobs-${Math.random().toString(16).slice(2)}`);
    writeFileSync(temporary, typeof value === "string" ? value : JSON.stringify(value, null, 2));
    renameSync(temporary, file);
  };
  write(config);
  const log: string[] = [];
  let serve: Serve;
  try {
    serve = (
      await Serve.open({
        jobsConfig: file,
        log: (level, message) => log.push(`${level} ${message}`),
        ...options,
      })
    ).start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    serve,
    file,
    log,
    write,
    async close() {
      await serve.abort();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends one status-port command (half-closing after it when it has no newline) and resolves with everything the port answered before closing. */
export function statusCommand(port: number, command: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let reply = "";
    socket.on("connect", () => (command.includes("\n") ? socket.write(command) : socket.end(command)));
    socket.on("data", (chunk) => (reply += chunk.toString("latin1")));
    socket.on("end", () => resolve(reply));
    socket.on("error", reject);
  });
}
