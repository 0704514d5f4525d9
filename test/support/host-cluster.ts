/**
 * A whole cluster on simulated hosts (netns.ts), as docs/deploy.md lays one
 * out, for the tests of faults across machines:
 *
 *   js1, js2   job servers of one kind (gearmand, or the embedded one through the CLI), both in job_server_url
 *   broker     `glimpse-cluster launch-broker`
 *   w1, w2     worker nodes, `glimpse-cluster launch-worker THREADS` (a supervisor and its node process)
 *   client     host-client.ts: one pool, maps on request
 *
 * Everyone reads one config file (the pool's defaults: poll_timeout and
 * max_retries are not set), with a cluster secret, so chunks are signed as
 * in a real deployment. Each worker host counts the items it runs in a file
 * (test/fixtures/cluster-functions.ts), so `runs()` tells how many times each
 * item ran wherever its chunk went.
 */
import { spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SimulatedNetwork, type SimulatedHost } from "./netns.js";
import { CLI_PATH } from "./job-servers.js";
import { programPath } from "./peers.js";

export type HostServerKind = "gearmand" | "embedded";

const CLIENT_PATH = path.join(path.dirname(fileURLToPath(import.meta.url)), "host-client.js");
const GEARMAN_PORT = 4730;
const BROKER_PORT = 9000;

/** A process on a simulated host, with the last lines it printed (for failure messages). */
export class HostProcess {
  readonly lines: string[] = [];
  private exited = false;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let partial = "";
    const onData = (chunk: Buffer) => {
      partial += chunk.toString();
      const lines = partial.split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.line(line);
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", () => (this.exited = true));
  }

  private readonly watchers = new Set<(line: string) => void>();

  private line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 400) this.lines.splice(0, 100);
    for (const watch of this.watchers) watch(line);
  }

  /** Calls `watch` with every line printed from now on; returns a function that stops it. */
  watch(watch: (line: string) => void): () => void {
    this.watchers.add(watch);
    return () => this.watchers.delete(watch);
  }

  /** Resolves with the first line (from now on) matching `pattern`; rejects if the process exits first or after `limitMs`. */
  waitFor(pattern: RegExp, limitMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error, line?: string) => {
        clearTimeout(timer);
        stop();
        this.child.off("exit", onExit);
        if (error) reject(error);
        else resolve(line!);
      };
      const onExit = (code: number | null, signal: string | null) =>
        done(new Error(`${this.name} exited (${code ?? signal}) before printing ${pattern}:\n${this.tail()}`));
      const timer = setTimeout(
        () => done(new Error(`${this.name} did not print ${pattern} in ${limitMs} ms:\n${this.tail()}`)),
        limitMs,
      );
      const stop = this.watch((line) => {
        if (pattern.test(line)) done(undefined, line);
      });
      if (this.exited) onExit(this.child.exitCode, this.child.signalCode);
      else this.child.once("exit", onExit);
    });
  }

  tail(lines = 30): string {
    return this.lines.slice(-lines).join("\n");
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (this.exited || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill("SIGTERM");
    });
  }
}

export interface MapRequest {
  readonly offset: number;
  readonly count: number;
  readonly chunksize: number;
}

export interface MapResult {
  /** The map's time, measured by the client. */
  readonly ms: number;
  readonly length: number;
  /** Indexes (the first ten) whose result was not 2 × item. */
  readonly wrong: number[];
  /** Retries spent, as the last progress report said. */
  readonly retries: number;
}

/** A map the client runs: progress as events, and its outcome. */
export class RunningMap {
  done = 0;
  retries = 0;
  private waiters: { at: number; resolve: () => void }[] = [];
  readonly result: Promise<MapResult>;
  settle!: { resolve: (result: MapResult) => void; reject: (error: Error) => void };

  constructor(readonly request: MapRequest) {
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.result.catch(() => {});
  }

  progress(done: number, retries: number): void {
    this.done = done;
    this.retries = retries;
    this.waiters = this.waiters.filter((w) => (done >= w.at ? (w.resolve(), false) : true));
  }

  /** Resolves once at least `items` results have arrived (or at once when the map already ended). */
  reached(items: number): Promise<void> {
    if (this.done >= items) return Promise.resolve();
    return Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ at: items, resolve })),
      this.result.then(
        () => {},
        () => {},
      ),
    ]);
  }
}

/** The client process, running maps on request. */
export class HostClient {
  private nextId = 0;
  private readonly maps = new Map<number, RunningMap>();

  constructor(readonly process: HostProcess) {
    process.watch((line) => {
      if (!line.startsWith("{")) return;
      const message = JSON.parse(line) as {
        id?: number;
        progress?: { done: number; retries: number };
        result?: MapResult;
        error?: string;
      };
      const map = message.id === undefined ? undefined : this.maps.get(message.id);
      if (!map) return;
      if (message.progress) map.progress(message.progress.done, message.progress.retries);
      else if (message.result) {
        this.maps.delete(message.id!);
        map.settle.resolve(message.result);
      } else if (message.error !== undefined) {
        this.maps.delete(message.id!);
        map.settle.reject(new Error(`the map failed on the client: ${message.error}`));
      }
    });
    process.child.once("exit", (code, signal) => {
      for (const map of this.maps.values())
        map.settle.reject(new Error(`the client exited (${code ?? signal}):\n${process.tail()}`));
      this.maps.clear();
    });
  }

  map(request: MapRequest): RunningMap {
    const id = ++this.nextId;
    const running = new RunningMap(request);
    this.maps.set(id, running);
    this.process.child.stdin!.write(`${JSON.stringify({ id, map: request })}\n`);
    return running;
  }
}

export interface HostClusterOptions {
  readonly kind: HostServerKind;
  /** Requeue limit of both job servers (gearmand -j, --job-retries). Default 3, as docs/deploy.md sets it. */
  readonly jobRetries?: number;
  /** Threads of each worker node. Default 2. */
  readonly threads?: number;
}

export class HostCluster {
  readonly network = new SimulatedNetwork();
  readonly js1: SimulatedHost;
  readonly js2: SimulatedHost;
  readonly broker: SimulatedHost;
  readonly w1: SimulatedHost;
  readonly w2: SimulatedHost;
  readonly clientHost: SimulatedHost;
  readonly processes: HostProcess[] = [];
  /** The supervisor (launch-worker) of each worker host. */
  readonly nodes = new Map<SimulatedHost, HostProcess>();
  client!: HostClient;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-hosts-"));
  readonly configFile = path.join(this.dir, "cluster.ini");

  private constructor(readonly options: HostClusterOptions) {
    this.js1 = this.network.addHost("js1");
    this.js2 = this.network.addHost("js2");
    this.broker = this.network.addHost("broker");
    this.w1 = this.network.addHost("w1");
    this.w2 = this.network.addHost("w2");
    this.clientHost = this.network.addHost("client");
    const brokerUrl = (offset: number) => `tcp://${this.broker.address}:${BROKER_PORT + offset}`;
    writeFileSync(
      this.configFile,
      [
        "[client]",
        `job_server_url = ${this.js1.address}:${GEARMAN_PORT}, ${this.js2.address}:${GEARMAN_PORT}`,
        `command_frontend_url = ${brokerUrl(0)}`,
        `command_backend_url = ${brokerUrl(1)}`,
        `log_frontend_url = ${brokerUrl(2)}`,
        `log_backend_url = ${brokerUrl(3)}`,
        `secret = ${randomBytes(32).toString("hex")}`,
        "",
        "[server]",
        `command_frontend_url = ${brokerUrl(0)}`,
        `command_backend_url = ${brokerUrl(1)}`,
        `log_frontend_url = ${brokerUrl(2)}`,
        `log_backend_url = ${brokerUrl(3)}`,
        "",
      ].join("\n"),
    );
  }

  /** Makes the hosts and starts everything; on failure removes what it made. */
  static async start(options: HostClusterOptions): Promise<HostCluster> {
    const cluster = new HostCluster(options);
    try {
      await Promise.all([
        cluster.startJobServer(cluster.js1),
        cluster.startJobServer(cluster.js2),
        cluster.startBroker(),
      ]);
      await Promise.all([cluster.startNode(cluster.w1), cluster.startNode(cluster.w2)]);
      const client = cluster.spawn(cluster.clientHost, "client", process.execPath, [CLIENT_PATH, cluster.configFile]);
      await client.waitFor(/"ready":true/);
      cluster.client = new HostClient(client);
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  spawn(host: SimulatedHost, name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): HostProcess {
    const child = host.spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...env } });
    const running = new HostProcess(name, child);
    this.processes.push(running);
    return running;
  }

  private async startJobServer(host: SimulatedHost): Promise<void> {
    const retries = String(this.options.jobRetries ?? 3);
    if (this.options.kind === "gearmand") {
      const gearmand = programPath("gearmand");
      if (gearmand === undefined) throw new Error("gearmand is not installed");
      const args = ["-L", host.address, "-p", String(GEARMAN_PORT), "-j", retries, "--log-file", "none"];
      const server = this.spawn(host, `gearmand on ${host.name}`, gearmand, args);
      await waitForListener(host, GEARMAN_PORT, server);
    } else {
      const args = [CLI_PATH, "-v", "job-server", "--host", host.address, "--port", String(GEARMAN_PORT)];
      const server = this.spawn(host, `job server on ${host.name}`, process.execPath, [
        ...args,
        "--job-retries",
        retries,
      ]);
      await server.waitFor(/listening on/);
    }
  }

  private async startBroker(): Promise<void> {
    const broker = this.spawn(this.broker, "broker", process.execPath, [
      CLI_PATH,
      "-c",
      this.configFile,
      "launch-broker",
    ]);
    await broker.waitFor(/broker listening/);
  }

  /** The file a worker host counts its item runs in. */
  runLog(host: SimulatedHost): string {
    return path.join(this.dir, `runs-${host.name}.log`);
  }

  async startNode(host: SimulatedHost): Promise<void> {
    const node = this.spawn(
      host,
      `worker node on ${host.name}`,
      process.execPath,
      [CLI_PATH, "-c", this.configFile, "launch-worker", String(this.options.threads ?? 2)],
      { GLIMPSE_RUN_LOG: this.runLog(host) },
    );
    this.nodes.set(host, node);
    await node.waitFor(/worker node .* started/);
  }

  /** The pid of the node process a worker host's supervisor runs now (the one to crash). */
  nodePid(host: SimulatedHost): number {
    const supervisor = this.nodes.get(host)!.child.pid!;
    const pids = spawnSync("ip", ["netns", "pids", host.ns], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean);
    for (const pid of pids) {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === supervisor) return Number(pid);
    }
    throw new Error(`no node process under the supervisor ${supervisor} on ${host.name}`);
  }

  /** How many times each item in [offset, offset + count) ran, on every worker host (or on `hosts`). */
  runs(offset: number, count: number, hosts: readonly SimulatedHost[] = [this.w1, this.w2]): Uint16Array {
    const counts = new Uint16Array(count);
    for (const host of hosts) {
      const file = this.runLog(host);
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, "utf8").split("\n")) {
        const item = Number(line) - offset;
        if (line !== "" && item >= 0 && item < count) counts[item]++;
      }
    }
    return counts;
  }

  /** Every process's last lines, for a failure message. */
  report(): string {
    return this.processes.map((p) => `--- ${p.name}\n${p.tail(15)}`).join("\n");
  }

  async close(): Promise<void> {
    this.client?.process.child.stdin?.end();
    await Promise.allSettled(this.processes.map((p) => p.stop()));
    this.network.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls the host's listening sockets (ss, inside its namespace) until something listens on `port`. */
export async function waitForListener(
  host: SimulatedHost,
  port: number,
  server: HostProcess,
  limitMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const ss = spawnSync("ss", ["-N", host.ns, "-Hltn", `sport = :${port}`], { encoding: "utf8" });
    if (ss.status === 0 && ss.stdout.trim() !== "") return;
    if (server.child.exitCode !== null) throw new Error(`${server.name} exited before listening:\n${server.tail()}`);
    if (Date.now() > deadline) throw new Error(`${server.name} did not listen on ${port} in ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
