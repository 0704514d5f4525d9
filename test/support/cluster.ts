/**
 * A whole cluster for end-to-end tests: a job server of the given kind, a
 * broker (or none: direct mode), worker nodes started through the real CLI
 * (`glimpse-cluster -c FILE launch-worker N`), and a config file a client can
 * load. Everything is on 127.0.0.1 with free ports and is stopped by close().
 * `pool()` builds the client's pool from a config file as MakePool does; for
 * the in-process kind its Gearman client reaches the server in memory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Broker } from "../../lib/channels/index.js";
import type { CurveKeys } from "../../lib/security/index.js";
import { MakePool, type ClusterPool } from "../../lib/index.js";
import { CLI_PATH, freePort, type JobServerKind, type RunningJobServer } from "./job-servers.js";

export interface TestClusterOptions {
  kind: JobServerKind;
  /** Route the channels through a broker (default) or let the client bind them (direct mode). */
  broker?: boolean;
  jobRetries?: number;
  /** More lines for the config file's [client] section (e.g. "secret = ..."). */
  clientConfig?: string[];
  /** Lines of a [server] section, read by the worker nodes. */
  serverConfig?: string[];
  /** More arguments for the job server (e.g. TLS files). */
  serverArgs?: string[];
  /** The cluster's CURVE keys: the broker admits only holders, and the config carries them. */
  curve?: CurveKeys;
}

export interface TestNode {
  readonly child: ChildProcess;
  /** Lines the supervisor and node wrote to stderr. */
  readonly output: string[];
}

export class TestCluster {
  readonly nodes: TestNode[] = [];
  private constructor(
    readonly server: RunningJobServer,
    readonly broker: Broker | undefined,
    readonly configFile: string,
    private readonly dir: string,
    /** Addresses the broker turned away (CURVE). */
    readonly refusedPeers: string[],
  ) {}

  static async start(options: TestClusterOptions): Promise<TestCluster> {
    const server = await options.kind.start({ jobRetries: options.jobRetries ?? 0, extraArgs: options.serverArgs });
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-test-"));
    const refused: string[] = [];
    let broker: Broker | undefined;
    try {
      let urls: { commandFrontend: string; commandBackend: string; logFrontend: string; logBackend: string };
      if (options.broker ?? true) {
        broker = new Broker(
          {
            commandFrontendUrl: "tcp://127.0.0.1:0",
            commandBackendUrl: "tcp://127.0.0.1:0",
            logFrontendUrl: "tcp://127.0.0.1:0",
            logBackendUrl: "tcp://127.0.0.1:0",
          },
          { curve: options.curve && { ...options.curve, onRefused: (address) => refused.push(address) } },
        );
        const bound = await broker.start();
        urls = {
          commandFrontend: bound.commandFrontendUrl,
          commandBackend: bound.commandBackendUrl,
          logFrontend: bound.logFrontendUrl,
          logBackend: bound.logBackendUrl,
        };
      } else {
        const command = `tcp://127.0.0.1:${await freePort()}`;
        const log = `tcp://127.0.0.1:${await freePort()}`;
        urls = { commandFrontend: command, commandBackend: command, logFrontend: log, logBackend: log };
      }
      const configFile = path.join(dir, "cluster.ini");
      writeFileSync(
        configFile,
        [
          "[client]",
          `job_server_url = ${server.url}`,
          `command_frontend_url = ${urls.commandFrontend}`,
          `command_backend_url = ${urls.commandBackend}`,
          `log_frontend_url = ${urls.logFrontend}`,
          `log_backend_url = ${urls.logBackend}`,
          "chunksize = 4",
          "poll_timeout = 60",
          "max_retries = 3",
          ...(options.curve
            ? [`curve_public_key = ${options.curve.publicKey}`, `curve_secret_key = ${options.curve.secretKey}`]
            : []),
          ...(options.clientConfig ?? []),
          ...(options.serverConfig ? ["", "[server]", ...options.serverConfig] : []),
          "",
        ].join("\n"),
      );
      return new TestCluster(server, broker, configFile, dir, refused);
    } catch (error) {
      await broker?.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Starts a worker node through the CLI (with `spawnOptions`' environment and directory); resolves once it logged that it started. */
  async startNode(
    threads = 1,
    extraArgs: string[] = [],
    configFile = this.configFile,
    spawnOptions: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
  ): Promise<TestNode> {
    const child = spawn(
      process.execPath,
      [CLI_PATH, "-c", configFile, "launch-worker", String(threads), ...extraArgs],
      {
        stdio: ["ignore", "pipe", "pipe"],
        ...spawnOptions,
      },
    );
    const node: TestNode = { child, output: [] };
    this.nodes.push(node);
    await new Promise<void>((resolve, reject) => {
      let buffer = "";
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString();
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        for (const line of lines) {
          node.output.push(line);
          if (/worker node .* started/.test(line)) resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) =>
        reject(new Error(`worker node exited (${code}) before starting:\n${node.output.join("\n")}${buffer}`)),
      );
    });
    return node;
  }

  /**
   * A client pool from one of this cluster's config files: MakePool(file);
   * on the in-process kind its Gearman client opens its connections with
   * connectInProcess(), as a local MakePool() does.
   */
  async pool(configFile = this.configFile): Promise<ClusterPool> {
    return MakePool(configFile, { open: this.server.clientOptions().open });
  }

  /** Writes another config file in this cluster's directory (e.g. a node with a different secret). */
  writeConfig(name: string, text: string): string {
    const file = path.join(this.dir, name);
    writeFileSync(file, text);
    return file;
  }

  async close(): Promise<void> {
    await Promise.allSettled(
      this.nodes.map(
        ({ child }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
    await this.broker?.close();
    await this.server.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
