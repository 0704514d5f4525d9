/**
 * Job servers for tests: the same suites run against every kind listed by
 * `jobServerKinds()`: gearmand (the C server, when installed) and the
 * embedded server (our own, run as a child process so that tests can kill it).
 *
 * Every server is started on a free loopback port and must be stopped by the
 * test (use `t.after(() => server.stop())` or `await using`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";

export interface StartOptions {
  /** Requeue cap for jobs whose worker dropped (gearmand `-j`). Always explicit in tests. Default 3. */
  jobRetries?: number;
  /** Fixed port (for restarts); default a free one. */
  port?: number;
  /** Extra arguments for the server's command line. */
  extraArgs?: string[];
}

export interface RunningJobServer extends AsyncDisposable {
  readonly kind: string;
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 3 s. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once. */
  kill(): Promise<void>;
  /** Stops it and starts a new one on the same port (same options). */
  restart(): Promise<RunningJobServer>;
}

export interface JobServerKind {
  readonly name: "gearmand" | "embedded";
  /** Why this kind cannot run here, or undefined when it can. */
  readonly skip: string | undefined;
  start(options?: StartOptions): Promise<RunningJobServer>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled CLI entry (tests run from dist/test). */
export const CLI_PATH = path.resolve(here, "../../cli/main.js");

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on host:port (polling, bounded). */
export async function waitForPort(host: string, port: number, child?: ChildProcess, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`server exited with status ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

function wrap(kind: JobServerKind["name"], child: ChildProcess, port: number, restartWith: () => Promise<RunningJobServer>): RunningJobServer {
  live.add(child);
  child.once("exit", () => live.delete(child));
  const stop = () => stopChild(child, "SIGTERM", 3000);
  return {
    kind,
    host: "127.0.0.1",
    port,
    url: `127.0.0.1:${port}`,
    pid: child.pid!,
    stop,
    kill: () => stopChild(child, "SIGKILL", 3000),
    async restart() {
      await stop();
      return restartWith();
    },
    [Symbol.asyncDispose]: stop,
  };
}

function gearmandPath(): string | undefined {
  for (const candidate of ["/usr/sbin/gearmand", "/usr/local/sbin/gearmand", "/usr/bin/gearmand"]) {
    if (existsSync(candidate)) return candidate;
  }
  const found = spawnSync("sh", ["-c", "command -v gearmand"], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const GEARMAND = gearmandPath();

export const gearmand: JobServerKind = {
  name: "gearmand",
  skip: GEARMAND ? undefined : "gearmand is not installed (apt-get install gearman-job-server)",
  async start(options: StartOptions = {}) {
    if (!GEARMAND) throw new Error(this.skip);
    const port = options.port ?? (await freePort());
    const args = ["-L", "127.0.0.1", "-p", String(port), "-j", String(options.jobRetries ?? 3), "--log-file", "none", "-t", "1", ...(options.extraArgs ?? [])];
    const child = spawn(GEARMAND, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    try {
      await waitForPort("127.0.0.1", port, child);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`gearmand did not start: ${(error as Error).message}\n${stderr}`);
    }
    return wrap("gearmand", child, port, () => gearmand.start({ ...options, port }));
  },
};

export const embedded: JobServerKind = {
  name: "embedded",
  skip: existsSync(CLI_PATH) ? undefined : `the CLI is not built (${CLI_PATH})`,
  async start(options: StartOptions = {}) {
    const args = [CLI_PATH, "job-server", "--host", "127.0.0.1", "--port", String(options.port ?? 0), "--job-retries", String(options.jobRetries ?? 3), ...(options.extraArgs ?? [])];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`embedded job server did not report ready in 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const m = /listening on \S+?:(\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          child.stdout!.off("data", onData);
          resolve(Number(m[1]));
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", (chunk) => (output += chunk.toString()));
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`embedded job server exited (${code}) before ready:\n${output}`));
      });
    }).catch((error) => {
      child.kill("SIGKILL");
      throw error;
    });
    child.stdout!.resume();
    return wrap("embedded", child, port, () => embedded.start({ ...options, port }));
  },
};

/**
 * The job servers to run a suite against. With GLIMPSE_REQUIRE_GEARMAND=1 a
 * missing gearmand is an error, never a skip. GLIMPSE_JOB_SERVERS=gearmand
 * (or embedded) narrows the list.
 */
export function jobServerKinds(): JobServerKind[] {
  if (process.env.GLIMPSE_REQUIRE_GEARMAND === "1" && gearmand.skip) {
    throw new Error(`GLIMPSE_REQUIRE_GEARMAND=1 but ${gearmand.skip}`);
  }
  const only = process.env.GLIMPSE_JOB_SERVERS?.split(",").map((s) => s.trim());
  return [gearmand, embedded].filter((kind) => !only || only.includes(kind.name));
}
