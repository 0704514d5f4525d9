/**
 * glimpse-cluster serve in a process of its own for the benches (the compiled CLI), with its status port, and
 * serve's own count of requests at a pool's endpoint read from it. BENCH_SERVE_NODE_ARGS (e.g. "--cpu-prof") are
 * given to its node.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { track } from "./job-servers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, "../cli/main.js");

export interface RunningServe {
  readonly pid: number;
  readonly statusPort: number;
  readonly command: string;
  /** What it printed. */
  log(): string;
  stop(): Promise<void>;
}

export async function startServe(jobsConfig: string): Promise<RunningServe> {
  const args = [
    ...(process.env.BENCH_SERVE_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
    CLI,
    "serve",
    "--jobsconfig",
    jobsConfig,
    "--max_running_time",
    "60",
    "--status_port",
    "0",
  ];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  const stop = track(child);
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    const statusPort = await new Promise<number>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /status port 127\.0\.0\.1:(\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`serve exited (${code}) before it served:\n${output}`)));
    });
    return { pid: child.pid!, statusPort, command: `node ${args.join(" ")}`, log: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** glimpse_serve_endpoint_request_seconds_total of `pool` (requests at its endpoint, integrated over time), from serve's status port. */
export function serveOccupancy(serve: RunningServe, pool: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port: serve.statusPort });
    let text = "";
    socket.on("connect", () => socket.write("GET /metrics HTTP/1.1\r\n\r\n"));
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("error", reject);
    socket.on("end", () => {
      const line = text
        .split("\n")
        .find((l) => l.startsWith(`glimpse_serve_endpoint_request_seconds_total{pool="${pool}"}`));
      resolve(line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : NaN);
    });
  });
}
