/**
 * Keeps one worker node process running, as the original's wrapper script did:
 * starts it again after `restart` (at once) or a crash (with backoff and a log
 * line), and stops for good after `quit` or a signal. The node's options are
 * checked here, before any process starts: a bad one throws an ArgumentError
 * naming it. A node that was drained (or draining) when it restarted starts
 * again drained, until an online command.
 *
 *   new NodeSupervisor(node options) ──fillNodeOptions (a bad one throws here)
 *   start() ──fork worker-main (node options as JSON)──► child ──exit 0──► done
 *                  ▲                                        └──exit RESTART / crash──► (backoff) ──┘
 *   a child that exits before it is ready: start() rejects with START_FAILED and the reason its stderr gave
 */
import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { fillNodeOptions, type NodeOptionsInput } from "./node-options.js";
import { RESTART_EXIT_CODE } from "./exit-codes.js";
import { failureReason, startFailed } from "./errors.js";
import {
  REFUSED,
  Rule,
  flag,
  func,
  list,
  oneOf,
  optionsSchema,
  whole,
  type Filled,
  type RulesOf,
} from "../options-schema.js";

export interface SupervisorOptions {
  /** Where supervisor log lines go. Default: stderr. */
  log?: (line: string) => void;
  /** First crash backoff in ms (doubles up to maxBackoffMs; reset after a child ran for a minute). Default 500. */
  initialBackoffMs?: number;
  /** Longest crash backoff in ms. Default 30000. */
  maxBackoffMs?: number;
  /** Node.js options of the node process (e.g. ["--max-old-space-size=4096"]). Default: none. */
  execArgv?: string[];
  /**
   * The node process's own output (its "started" line, crash traces): shown (default) or dropped. Either
   * way, a process that exits before it is ready rejects start() with the reason its stderr gave.
   */
  output?: "inherit" | "ignore";
  /** Have the node process keep its Prometheus metrics (node-metrics.ts), for metricsOfNode(). Default false. */
  metrics?: boolean;
}

/** How much of a starting node process's stderr is kept for the reason of a failed start. */
const STDERR_KEPT = 8192;

/** A node process's metrics as prom-client's getMetricsAsJSON() gives them. */
export type NodeMetricsJson = Awaited<ReturnType<import("prom-client").Registry["getMetricsAsJSON"]>>;

const SUPERVISOR = optionsSchema("NodeSupervisor", {
  log: func<(line: string) => void>().default((line: string) => void process.stderr.write(`${line}\n`)),
  initialBackoffMs: whole(0).default(500),
  maxBackoffMs: whole(0).default(30_000),
  execArgv: list(new Rule("a string", (v) => (typeof v === "string" ? v : REFUSED)), "a list of strings").default([]),
  output: oneOf("inherit", "ignore").default("inherit"),
  metrics: flag().default(false),
} satisfies RulesOf<SupervisorOptions>);

export class NodeSupervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private done: Promise<void>;
  private finish!: () => void;
  /** How many times the node process was started. */
  starts = 0;
  /** Metrics requests waiting for the node process's answer, by id. */
  private readonly metricsWaiting = new Map<number, (metrics: NodeMetricsJson | undefined) => void>();
  private metricsCounter = 0;
  /** The node was drained (or draining) when last heard of: it is started again drained. */
  private drained = false;

  private readonly options: Filled<typeof SUPERVISOR.rules>;

  /** Throws ArgumentError naming a bad or unknown node or supervisor option, before any process starts. */
  constructor(
    private readonly node: NodeOptionsInput,
    options: SupervisorOptions = {},
  ) {
    super();
    // Checked here, and filled again in the node's process (its id and defaults are its own).
    this.drained = fillNodeOptions(node).drained;
    this.options = SUPERVISOR.fill(options);
    this.backoffMs = this.options.initialBackoffMs;
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private log(line: string): void {
    this.options.log(`[supervisor ${process.pid}] ${line}`);
  }

  /** Starts the node; resolves when its process reported ready. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = fork(new URL("./worker-main.js", import.meta.url), [], {
        env: {
          ...process.env,
          GLIMPSE_NODE_OPTIONS: JSON.stringify({ ...this.node, drained: this.drained }),
          GLIMPSE_NODE_METRICS: this.options.metrics ? "1" : "",
        },
        execArgv: [...this.options.execArgv],
        // stderr is read here: until the node is ready its end says why a start failed, and it is passed on when shown.
        stdio: ["ignore", this.options.output, "pipe", "ipc"],
      });
      this.child = child;
      this.starts++;
      const startedAt = Date.now();
      let ready = false;
      let stderr = "";
      const stderrEnded = new Promise<void>((resolve) => child.stderr!.once("close", resolve));
      child.stderr!.on("data", (chunk: Buffer) => {
        if (this.options.output === "inherit") process.stderr.write(chunk);
        if (!ready) stderr = (stderr + chunk.toString()).slice(-STDERR_KEPT);
      });
      child.on("message", (message: { type?: string; id?: number; metrics?: NodeMetricsJson; state?: string }) => {
        if (message?.type === "metrics" && Array.isArray(message.metrics)) {
          this.emit("metrics", message.metrics, child.pid);
          const answer = this.metricsWaiting.get(message.id ?? 0);
          this.metricsWaiting.delete(message.id ?? 0);
          answer?.(message.metrics);
        }
        if (message?.type === "state") this.drained = message.state !== "serving";
        if (message?.type === "ready" && !ready) {
          ready = true;
          this.emit("ready", child.pid);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        this.child = undefined;
        if (!ready) {
          // What it wrote last may still be in the pipe: wait for its end, a little.
          const failed = () => reject(startFailed(String(signal ?? code), failureReason(stderr)));
          void Promise.race([stderrEnded, new Promise((resolve) => setTimeout(resolve, 1000).unref())]).then(failed);
        }
        this.emit("exit", code, signal);
        if (this.stopping || code === 0) {
          this.log(`worker node ${child.pid} exited (${signal ?? code}); not restarting`);
          this.stopping = true;
          this.finish();
          return;
        }
        if (Date.now() - startedAt > 60_000) this.backoffMs = this.options.initialBackoffMs;
        const delay = code === RESTART_EXIT_CODE ? 0 : this.backoffMs;
        if (code !== RESTART_EXIT_CODE) this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs * 2);
        this.log(
          code === RESTART_EXIT_CODE
            ? `worker node ${child.pid} asked to restart; restarting`
            : `worker node ${child.pid} died (${signal ?? code}); restarting in ${delay} ms`,
        );
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          this.start().catch((error: Error) => this.log(error.message));
        }, delay);
      });
    });
  }

  /**
   * The running node process's metrics (with the `metrics` option), asked
   * over IPC; undefined when no process runs or it does not answer within
   * `waitMs`. The process also sends its last figures when it stops (the
   * "metrics" event carries every answer, with the process's pid).
   */
  metricsOfNode(waitMs = 1000): Promise<NodeMetricsJson | undefined> {
    const child = this.child;
    if (!this.options.metrics || child === undefined || !child.connected) return Promise.resolve(undefined);
    const id = ++this.metricsCounter;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.metricsWaiting.delete(id);
        resolve(undefined);
      }, waitMs);
      this.metricsWaiting.set(id, (metrics) => {
        clearTimeout(timer);
        resolve(metrics);
      });
      child.send({ type: "metrics", id }, (error) => {
        if (error) this.metricsWaiting.get(id)?.(undefined);
      });
    });
  }

  /** Resolves when the supervisor is done for good (after quit, or stop()). */
  whenDone(): Promise<void> {
    return this.done;
  }

  /** Stops the node (SIGTERM: running chunks finish within its grace period) and does not restart it. */
  stop(): Promise<void> {
    return this.end("SIGTERM");
  }

  /** Kills the node process at once (SIGKILL) without restarting it. */
  kill(): Promise<void> {
    return this.end("SIGKILL");
  }

  private end(signal: NodeJS.Signals): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.child) this.child.kill(signal);
    else this.finish();
    return this.done;
  }
}
