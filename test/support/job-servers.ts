/**
 * Job servers for tests: the same suites run against every kind listed by
 * `jobServerKinds()`:
 *
 *   gearmand    the C server, a child process (when installed)
 *   embedded    our JobServer in a child process (`glimpse-cluster job-server`), so that tests can kill it
 *   in-process  our JobServer in the test process, listening on loopback for worker processes and CLI tools;
 *               clients in the test process reach it through JobServer.connectInProcess(), as every local
 *               MakePool() does (build them from `server.clientOptions()` or `clientOptionsFor(servers)`)
 *
 * Every server is started on a free loopback port and must be stopped by the
 * test (use `t.after(() => server.stop())` or `await using`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { JobServer } from "../../lib/server/index.js";
import type { ClientOptions } from "../../lib/gearman/index.js";
import { missingPeer, programPath } from "./peers.js";

export interface StartOptions {
  /** Requeue cap for jobs whose worker dropped (gearmand `-j`). Always explicit in tests. Default 3. */
  jobRetries?: number;
  /** Fixed port (for restarts); default a free one. */
  port?: number;
  /** Extra arguments for the server's command line (gearmand and embedded; the in-process kind takes none). */
  extraArgs?: string[];
}

export interface RunningJobServer extends AsyncDisposable {
  readonly kind: string;
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT" */
  readonly url: string;
  /** The server process (the test process itself for the in-process kind). */
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 3 s (in-process: a graceful close, at once after 3 s). Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once (in-process: closed at once, every connection dropped). */
  kill(): Promise<void>;
  /** Stops it and starts a new one on the same port (same options). */
  restart(): Promise<RunningJobServer>;
  /** Options for a GearmanClient in this process: `{ servers }`, with `open` for the in-process kind. */
  clientOptions(): TestClientOptions;
}

/** What a test client needs to reach its servers: the addresses, and how to open in-process streams. */
export type TestClientOptions = Pick<ClientOptions, "servers" | "open">;

export interface JobServerKind {
  readonly name: "gearmand" | "embedded" | "in-process";
  /** Why this kind cannot run here, or undefined when it can. */
  readonly skip: string | undefined;
  start(options?: StartOptions): Promise<RunningJobServer>;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The compiled CLI entry (tests run from dist/test). */
export const CLI_PATH = path.resolve(here, "../../cli/main.js");

/**
 * A port on 127.0.0.1 that nothing listens on now, for a test to bind later or to find refused. It is taken
 * below Linux's ephemeral range (32768 and up), where no listener bound to port 0 meanwhile (a test file
 * running beside this one, a job server or broker started on port 0) can be given it, as it could be
 * given a port 0 bind released.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

/** Resolves once something accepts TCP connections on host:port (polling, bounded). */
export async function waitForPort(host: string, port: number, child?: ChildProcess, limitMs = 10_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (child && child.exitCode !== null)
      throw new Error(`server exited with status ${child.exitCode} before listening on ${port}`);
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

function wrap(
  kind: JobServerKind["name"],
  child: ChildProcess,
  port: number,
  restartWith: () => Promise<RunningJobServer>,
): RunningJobServer {
  live.add(child);
  child.once("exit", () => live.delete(child));
  const stop = () => stopChild(child, "SIGTERM", 3000);
  const running: RunningJobServer = {
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
    clientOptions: () => clientOptionsFor([running]),
    [Symbol.asyncDispose]: stop,
  };
  return running;
}

export const gearmand: JobServerKind = {
  name: "gearmand",
  get skip() {
    return missingPeer("gearmand");
  },
  async start(options: StartOptions = {}) {
    const program = programPath("gearmand");
    if (!program) throw new Error(missingPeer("gearmand"));
    const port = options.port ?? (await freePort());
    const args = [
      "-L",
      "127.0.0.1",
      "-p",
      String(port),
      "-j",
      String(options.jobRetries ?? 3),
      "--log-file",
      "none",
      "-t",
      "1",
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(program, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (chunk) => (stderr += chunk));
    try {
      await waitForPort("127.0.0.1", port, child);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`gearmand did not start: ${(error as Error).message}\n${stderr}`, { cause: error });
    }
    return wrap("gearmand", child, port, () => gearmand.start({ ...options, port }));
  },
};

export const embedded: JobServerKind = {
  name: "embedded",
  skip: existsSync(CLI_PATH) ? undefined : `the CLI is not built (${CLI_PATH})`,
  async start(options: StartOptions = {}) {
    const args = [
      CLI_PATH,
      "job-server",
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port ?? 0),
      "--job-retries",
      String(options.jobRetries ?? 3),
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`embedded job server did not report ready in 10 s:\n${output}`)),
        10_000,
      );
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

/** The in-process servers now listening, by port: the `open` of their clients looks the current one up. */
const inProcessServers = new Map<number, JobServer>();

/**
 * Opens an in-process stream to the JobServer of this process that listens
 * on the address's port; undefined (plain TCP, as for any other server) when
 * none does, e.g. while it is killed and not yet restarted.
 */
const openInProcess: NonNullable<ClientOptions["open"]> = (address) => {
  const loopback = address.host === "127.0.0.1" || address.host === "localhost";
  return loopback ? inProcessServers.get(address.port)?.connectInProcess() : undefined;
};

/** Client options for several servers of one kind (or of several). */
export function clientOptionsFor(servers: readonly RunningJobServer[]): TestClientOptions {
  const urls = servers.map((server) => server.url);
  return servers.some((server) => server.kind === "in-process")
    ? { servers: urls, open: openInProcess }
    : { servers: urls };
}

export const inProcess: JobServerKind = {
  name: "in-process",
  skip: undefined,
  async start(options: StartOptions = {}) {
    if (options.extraArgs?.length)
      throw new Error(`the in-process job server takes no command-line arguments (got ${options.extraArgs.join(" ")})`);
    const server = new JobServer({ host: "127.0.0.1", port: options.port ?? 0, jobRetries: options.jobRetries ?? 3 });
    const { port } = await server.listen();
    inProcessServers.set(port, server);
    const close = (graceful: boolean) => {
      if (inProcessServers.get(port) === server) inProcessServers.delete(port);
      return server.close({ graceful, graceMs: 3000 });
    };
    const running: RunningJobServer = {
      kind: "in-process",
      host: "127.0.0.1",
      port,
      url: `127.0.0.1:${port}`,
      pid: process.pid,
      stop: () => close(true),
      kill: () => close(false),
      async restart() {
        await close(true);
        return inProcess.start({ ...options, port });
      },
      clientOptions: () => clientOptionsFor([running]),
      [Symbol.asyncDispose]: () => close(true),
    };
    return running;
  },
};

/**
 * The job servers to run a suite against: gearmand, embedded and in-process.
 * `inProcess: false` leaves the in-process kind out, for suites whose
 * clients do not live in the test process or that are too long to run three
 * times. With GLIMPSE_REQUIRE_GEARMAND=1 (or gearmand in GLIMPSE_REQUIRE_PEERS)
 * a missing gearmand is an error, never a skip. GLIMPSE_JOB_SERVERS=gearmand
 * (or embedded, in-process, or a comma-separated list) narrows the list.
 */
export function jobServerKinds(options: { inProcess?: boolean } = {}): JobServerKind[] {
  missingPeer("gearmand"); // throws when gearmand is required and missing
  const only = process.env.GLIMPSE_JOB_SERVERS?.split(",").map((s) => s.trim());
  const kinds = options.inProcess === false ? [gearmand, embedded] : [gearmand, embedded, inProcess];
  return kinds.filter((kind) => !only || only.includes(kind.name));
}
