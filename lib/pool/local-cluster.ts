/**
 * A cluster on this machine, for MakePool() with no configuration and for
 * `glimpse-cluster demo`: an embedded job server in this process and worker
 * node processes (each kept running by a NodeSupervisor), which connect to the
 * channel ends the pool binds (direct mode, no broker). The pool's own client
 * reaches the server in memory (connectInProcess).
 *
 * Who else can reach it decides whether it must sign. By default everything
 * lives in a fresh directory only this user can enter (mode 0700): the job
 * server on a Unix socket DIR/jobs.sock, the channels on ipc://DIR/commands
 * and ipc://DIR/logs, and large chunks and results as files in a payload
 * directory of the same kind, in tmpfs when there is one (payload-directory.ts). No other user can connect, so nothing is signed (signing
 * costs an HMAC over every chunk and result). With `secret: true` it listens on
 * 127.0.0.1 TCP instead, which every local user can reach, and makes up a
 * cluster secret so that every chunk and command is signed and nothing another
 * user submits runs.
 *
 *   start() ──► remove this user's abandoned DIRs (stale-clusters.ts) and payload directories ──► mkdtemp DIR (0700)
 *           ──► JobServer on DIR/jobs.sock ──► payload directory ──► (the pool binds channelUrls) ──► startWorkers(command, log URLs)
 *               (node processes with this process's module-loading flags: a pool run by tsx has nodes that load .ts)
 *   close() ──► stop the nodes ──► close the server ──► remove DIR and the payload directory
 *   the process ends first (exit, or SIGINT/SIGTERM/SIGHUP it does not handle) ──► remove both (directory-guard.ts)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { JobServer, type InProcessSocket } from "../server/index.js";
import { NodeSupervisor } from "../node/node-supervisor.js";
import { moduleLoadingFlags } from "../node/module-loading-flags.js";
import { LOCAL_CLUSTER_PREFIX, removeStaleLocalClusters } from "./stale-clusters.js";
import { guardDirectory } from "./directory-guard.js";
import { makePayloadDirectory, removeStalePayloadDirectories } from "./payload-directory.js";
import { ArgumentError } from "../argument-error.js";
import { DEFAULT_MAX_PACKET_SIZE } from "../gearman/packet.js";
import { REFUSED, Rule, flag, func, list, optionsSchema, whole, type RulesOf } from "../options-schema.js";

export interface LocalClusterOptions {
  /** Worker node processes. Default 1. */
  workers?: number;
  /** Threads per worker node. Default: the machine's cores divided among the nodes (at least 1). */
  threads?: number;
  /** Where worker supervisor log lines go. Default: dropped. */
  log?: (line: string) => void;
  /**
   * true: listen on 127.0.0.1 TCP and sign every chunk and command with a secret made up for this
   * cluster (as a cluster spread over machines does). Default false: a private directory of Unix
   * sockets that only this user can reach, and no signing.
   */
  secret?: boolean;
  /**
   * Node.js flags of the worker node processes (and so of their threads). Default: this process's flags
   * that change how modules load (`--import`, `--require`, `--loader`, `--enable-source-maps`, ...: see
   * node/module-loading-flags.ts), so that nodes of a pool run by tsx import `.ts` module functions.
   */
  execArgv?: string[];
  /** The largest job or result a packet carries, in bytes, for the job server, the nodes and the pool. Default 64 MiB. */
  maxPacketSize?: number;
}

const LOCAL = optionsSchema("LocalCluster", {
  workers: whole(1).default(1),
  threads: whole(1).optional(),
  log: func<(line: string) => void>().optional(),
  secret: flag().default(false),
  execArgv: list(new Rule("a string", (v) => (typeof v === "string" ? v : REFUSED)), "a list of strings").defaultFrom(
    () => moduleLoadingFlags(process.execArgv),
  ),
  maxPacketSize: whole(1024).default(DEFAULT_MAX_PACKET_SIZE),
} satisfies RulesOf<LocalClusterOptions>);

interface FilledLocalClusterOptions {
  readonly workers: number;
  readonly threads: number;
  readonly log: ((line: string) => void) | undefined;
  readonly secret: boolean;
  readonly execArgv: readonly string[];
  readonly maxPacketSize: number;
}

function fillLocalClusterOptions(options: LocalClusterOptions): FilledLocalClusterOptions {
  const filled = LOCAL.fill(options);
  const threads = filled.threads ?? Math.max(1, Math.floor(os.availableParallelism() / filled.workers));
  return Object.freeze({ ...filled, threads });
}

/** The longest Unix socket path Linux takes (sun_path holds 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107;

/** Where the pool binds its channel ends. */
export interface LocalChannelUrls {
  readonly commandUrl: string;
  readonly logUrl: string;
}

export class LocalCluster {
  private readonly supervisors: NodeSupervisor[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: JobServer,
    /** The embedded job server as worker nodes reach it: "unix:DIR/jobs.sock", or "127.0.0.1:PORT" with a secret. */
    readonly jobServer: string,
    /** The private directory holding the sockets; undefined with a secret. */
    readonly directory: string | undefined,
    /** The cluster secret shared by the pool and its worker nodes; undefined when nothing is signed. */
    readonly secret: string | undefined,
    private readonly options: FilledLocalClusterOptions,
    /** Stops removing the directory at exit or on a signal (directory-guard.ts), once close() removed it. */
    private readonly unguard: () => void = () => {},
    /** Where large chunks and results go as files (payload-directory.ts); undefined with a secret. */
    readonly payloadDirectory: string | undefined = undefined,
    private readonly unguardPayloads: () => void = () => {},
  ) {}

  /** Starts the job server (the worker nodes start with startWorkers). Throws ArgumentError naming a bad option. */
  static async start(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const filled = fillLocalClusterOptions(options);
    // jobRetries 1: a job whose worker node died fails at once, so the pool, which counts every take of a
    // chunk against max_retries, submits it again itself; the server never hands a chunk out behind its back.
    if (filled.secret) {
      const server = new JobServer({ host: "127.0.0.1", port: 0, jobRetries: 1, maxPacketSize: filled.maxPacketSize });
      const { host, port } = await server.listen();
      return new LocalCluster(server, `${host}:${port}`, undefined, randomBytes(32).toString("base64url"), filled);
    }
    for (const stale of [...(await removeStaleLocalClusters(os.tmpdir())), ...removeStalePayloadDirectories()])
      filled.log?.(`removed ${stale}, left by a local cluster whose process was killed`);
    // mkdtemp creates the directory with mode 0700, so its sockets are this user's alone whatever the umask.
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), LOCAL_CLUSTER_PREFIX));
    const unguard = guardDirectory(directory);
    let payloads: string | undefined;
    let unguardPayloads = () => {};
    try {
      const longest = Buffer.byteLength(path.join(directory, "commands"));
      if (longest > MAX_SOCKET_PATH) {
        throw new ArgumentError(
          "LocalCluster temp directory",
          `${directory} is too long for Unix socket paths (${longest} bytes, the limit is ${MAX_SOCKET_PATH}): set TMPDIR to a shorter directory, or use the option secret: true (loopback TCP)`,
        );
      }
      // The payload directory first: nothing is listening yet if it cannot be made.
      payloads = makePayloadDirectory(directory);
      if (!payloads.startsWith(directory)) unguardPayloads = guardDirectory(payloads);
      const socket = path.join(directory, "jobs.sock");
      const server = new JobServer({ path: socket, jobRetries: 1, maxPacketSize: filled.maxPacketSize });
      await server.listen();
      return new LocalCluster(
        server,
        `unix:${socket}`,
        directory,
        undefined,
        filled,
        unguard,
        payloads,
        unguardPayloads,
      );
    } catch (error) {
      fs.rmSync(directory, { recursive: true, force: true });
      if (payloads !== undefined) fs.rmSync(payloads, { recursive: true, force: true });
      unguardPayloads();
      unguard();
      throw error;
    }
  }

  get workerCount(): number {
    return this.options.workers;
  }

  get threadsPerWorker(): number {
    return this.options.threads;
  }

  /** The largest packet data its job server, nodes and pool carry. */
  get maxPacketSize(): number {
    return this.options.maxPacketSize;
  }

  /** The channel ends for the pool to bind: ipc:// sockets in the private directory, or loopback TCP on free ports with a secret. */
  get channelUrls(): LocalChannelUrls {
    if (this.directory === undefined) return { commandUrl: "tcp://127.0.0.1:0", logUrl: "tcp://127.0.0.1:0" };
    return {
      commandUrl: `ipc://${path.join(this.directory, "commands")}`,
      logUrl: `ipc://${path.join(this.directory, "logs")}`,
    };
  }

  /** Starts the worker node processes, connected to the given channel endpoints; resolves once each is ready. */
  async startWorkers(commandUrl: string, logUrl: string): Promise<void> {
    for (let i = 0; i < this.workerCount; i++) {
      this.supervisors.push(
        new NodeSupervisor(
          {
            jobServers: [this.jobServer],
            commandUrl,
            logUrl,
            threads: this.threadsPerWorker,
            graceMs: 5000,
            secret: this.secret,
            maxPacketSize: this.options.maxPacketSize,
            payloadDirectory: this.payloadDirectory,
          },
          {
            log: this.options.log ?? (() => {}),
            output: this.options.log ? "inherit" : "ignore",
            execArgv: [...this.options.execArgv],
          },
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
      if (this.directory !== undefined) fs.rmSync(this.directory, { recursive: true, force: true });
      if (this.payloadDirectory !== undefined) fs.rmSync(this.payloadDirectory, { recursive: true, force: true });
      this.unguard();
      this.unguardPayloads();
    })();
    return this.closing;
  }
}
