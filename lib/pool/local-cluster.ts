/**
 * A cluster on this machine, for MakePool() with no configuration and for
 * `glimpse-cluster demo`: an embedded job server in this process and worker
 * node processes (each kept running by a NodeSupervisor) on loopback, which
 * connect to the channel addresses the pool binds (direct mode, no broker).
 * The pool's client reaches the server in memory (connectInProcess), not over
 * TCP. It makes up its own cluster secret, so even here every chunk and
 * command is signed and nothing another local user submits to the job server runs.
 *
 *   start() ──► JobServer on 127.0.0.1:0 ──► (the pool binds its channel ends) ──► startWorkers(command, log URLs)
 */
import os from "node:os";
import { randomBytes } from "node:crypto";
import { JobServer, type InProcessSocket } from "../server/index.js";
import { NodeSupervisor } from "../node/node-supervisor.js";
import { ArgumentError, wholeNumber } from "../argument-error.js";

export interface LocalClusterOptions {
  /** Worker node processes. Default 1. */
  workers?: number;
  /** Threads per worker node. Default: the machine's cores divided among the nodes (at least 1). */
  threads?: number;
  /** Where worker supervisor log lines go. Default: dropped. */
  log?: (line: string) => void;
}

const KNOWN: readonly (keyof LocalClusterOptions)[] = ["workers", "threads", "log"];

interface FilledLocalClusterOptions {
  readonly workers: number;
  readonly threads: number;
  readonly log: ((line: string) => void) | undefined;
}

function fillLocalClusterOptions(options: LocalClusterOptions): FilledLocalClusterOptions {
  if (options === null || typeof options !== "object") throw new ArgumentError("LocalCluster options", `expected an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key)) throw new ArgumentError(`LocalCluster option ${key}`, `unknown (known: ${KNOWN.join(", ")})`);
  }
  if (options.log !== undefined && typeof options.log !== "function") throw new ArgumentError("LocalCluster option log", "expected a function");
  const workers = options.workers === undefined ? 1 : wholeNumber("LocalCluster option workers", options.workers, 1);
  const threads = options.threads === undefined ? Math.max(1, Math.floor(os.availableParallelism() / workers)) : wholeNumber("LocalCluster option threads", options.threads, 1);
  return Object.freeze({ workers, threads, log: options.log });
}

export class LocalCluster {
  private readonly supervisors: NodeSupervisor[] = [];
  private closing: Promise<void> | undefined;
  /** This cluster's secret, shared by its pool and its worker nodes. */
  readonly secret = randomBytes(32).toString("base64url");

  private constructor(
    private readonly server: JobServer,
    /** "127.0.0.1:PORT" of the embedded job server. */
    readonly jobServer: string,
    private readonly options: FilledLocalClusterOptions,
  ) {}

  /** Starts the job server (the worker nodes start with startWorkers). Throws ArgumentError naming a bad option. */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const filled = fillLocalClusterOptions(options);
    // jobRetries 1: a job whose worker node died fails at once, so the pool, which counts every take of a
    // chunk against max_retries, submits it again itself; the server never hands a chunk out behind its back.
    const server = new JobServer({ host: "127.0.0.1", port: 0, jobRetries: 1 });
    const { host, port } = await server.listen();
    return new LocalCluster(server, `${host}:${port}`, filled);
  }

  get workerCount(): number {
    return this.options.workers;
  }

  get threadsPerWorker(): number {
    return this.options.threads;
  }

  /** Starts the worker node processes, connected to the given channel endpoints; resolves once each is ready. */
  async startWorkers(commandUrl: string, logUrl: string): Promise<void> {
    for (let i = 0; i < this.workerCount; i++) {
      this.supervisors.push(
        new NodeSupervisor(
          { jobServers: [this.jobServer], commandUrl, logUrl, threads: this.threadsPerWorker, graceMs: 5000, secret: this.secret },
          { log: this.options.log ?? (() => {}), output: this.options.log ? "inherit" : "ignore" },
        ),
      );
    }
    await Promise.all(this.supervisors.map((s) => s.start()));
  }

  /** A connection to the embedded job server that skips the network, for the pool's own client in this process. */
  connectInProcess(): InProcessSocket {
    return this.server.connectInProcess();
  }

  /** The supervisors, e.g. to kill a node in a test. */
  get nodes(): readonly NodeSupervisor[] {
    return this.supervisors;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.supervisors.map((s) => s.stop()));
      await this.server.close({ graceful: false });
    })();
    return this.closing;
  }
}
