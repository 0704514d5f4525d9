/**
 * Job servers the cases measure, each a child process on a free loopback
 * port: gearmand (the C server, with a chosen thread count) and our embedded
 * server (`glimpse-cluster job-server`). Every server started here is killed
 * when the bench process exits, however it exits.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchJobServer {
  /** Contender name, as the tables show it. */
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly url: string;
  /** Its Prometheus endpoint, when started with one. */
  readonly metricsUrl?: string;
  /** SIGTERM, SIGKILL after 3 s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

export interface ServerContender {
  readonly name: string;
  /** The command line, for the case's notes. */
  readonly settings: string;
  /** Why it cannot run here, or undefined when it can. */
  readonly skip: string | undefined;
  start(): Promise<BenchJobServer>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled CLI (this file runs from dist/bench). */
const CLI_PATH = path.resolve(here, "../cli/main.js");
const GEARMAND = ["/usr/sbin/gearmand", "/usr/local/sbin/gearmand", "/usr/bin/gearmand"].find((p) => existsSync(p));
const START_LIMIT_MS = 10_000;

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill("SIGKILL");
    process.exit(130);
  });
}

/** Registers a child for the kill-on-exit guard; the returned function stops it (SIGTERM, SIGKILL after 3 s). */
export function track(child: ChildProcess): () => Promise<void> {
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("exit", () => live.delete(child));
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.kill("SIGTERM");
    await exited;
    clearTimeout(timer);
  };
}

const running = (
  name: string,
  child: ChildProcess,
  port: number,
  stop: () => Promise<void>,
  metricsUrl?: string,
): BenchJobServer => ({
  name,
  pid: child.pid!,
  port,
  url: `127.0.0.1:${port}`,
  metricsUrl,
  stop,
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().unref().on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls until the port accepts a connection (bounded); fails early if the child exits. */
export async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + START_LIMIT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => resolve(true)).once("error", () => resolve(false));
      socket.once("connect", () => socket.destroy());
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`${what}: nothing listens on 127.0.0.1:${port} after ${START_LIMIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** gearmand with `-j 0`, logging off; `threads` undefined keeps its default I/O thread count. */
export function gearmand(threads?: number): ServerContender {
  const name = threads === undefined ? "gearmand" : `gearmand -t ${threads}`;
  const extra = threads === undefined ? [] : ["-t", String(threads)];
  return {
    name,
    settings: `${name}: ${GEARMAND ?? "gearmand"} -L 127.0.0.1 -p PORT -j 0 --log-file none${extra.length ? ` ${extra.join(" ")}` : " (default threads)"}`,
    skip: GEARMAND ? undefined : "gearmand is not installed (bench/setup-peers.sh installs gearman-job-server)",
    async start() {
      if (!GEARMAND) throw new Error(`${name}: ${this.skip}`);
      const port = await freePort();
      const child = spawn(
        GEARMAND,
        ["-L", "127.0.0.1", "-p", String(port), "-j", "0", "--log-file", "none", ...extra],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      const stop = track(child);
      let stderr = "";
      child.stderr!.on("data", (chunk) => (stderr += chunk));
      try {
        await waitForPort(port, child, name);
      } catch (error) {
        await stop();
        throw new Error(`${(error as Error).message}\n${stderr}`, { cause: error });
      }
      return running(name, child, port, stop);
    },
  };
}

/** Our embedded job server, run through the compiled CLI with `--job-retries 0` (and --metrics-port 0 with `metrics`). */
export function embedded(options: { metrics?: boolean } = {}): ServerContender {
  const name = options.metrics ? "embedded with metrics" : "embedded";
  const extra = options.metrics ? ["--metrics-port", "0"] : [];
  return {
    name,
    settings: `${name}: node dist/cli/main.js job-server --host 127.0.0.1 --port 0 --job-retries 0${extra.length ? ` ${extra.join(" ")}` : ""}`,
    skip: existsSync(CLI_PATH) ? undefined : `the CLI is not built (${CLI_PATH}); run npx tsc -p .`,
    async start() {
      const child = spawn(
        process.execPath,
        [CLI_PATH, "job-server", "--host", "127.0.0.1", "--port", "0", "--job-retries", "0", ...extra],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let output = "";
      let metricsUrl: string | undefined;
      const ready = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`${name} did not print "listening on HOST:PORT" within ${START_LIMIT_MS} ms:\n${output}`)),
          START_LIMIT_MS,
        );
        const onData = (chunk: Buffer) => {
          output += chunk;
          const match = /listening on \S+?:(\d+)/.exec(output);
          metricsUrl = /metrics on (\S+)\n/.exec(output)?.[1];
          if (match && (!options.metrics || metricsUrl)) {
            clearTimeout(timer);
            child.stdout!.off("data", onData).resume();
            resolve(Number(match[1]));
          }
        };
        child.stdout!.on("data", onData);
        child.stderr!.on("data", (chunk) => (output += chunk));
        child.once("exit", (code, signal) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`));
        });
      });
      const stop = track(child);
      try {
        const port = await ready;
        return running(name, child, port, stop, metricsUrl);
      } catch (error) {
        await stop();
        throw error;
      }
    },
  };
}
