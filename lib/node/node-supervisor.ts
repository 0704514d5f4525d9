/**
 * Keeps one worker node process running, as the original's wrapper script did:
 * starts it again after `restart` (at once) or a crash (with backoff and a log
 * line), and stops for good after `quit` or a signal.
 *
 *   start() ──fork worker-main──► child ──exit 0──► done
 *                  ▲                 └──exit RESTART / crash──► (backoff) ──┘
 */
import { fork, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import type { NodeOptionsInput } from "./node-options.js";
import { RESTART_EXIT_CODE } from "./exit-codes.js";

export interface SupervisorOptions {
  /** Where supervisor log lines go. Default: stderr. */
  log?: (line: string) => void;
  /** First crash backoff in ms (doubles up to maxBackoffMs; reset after a child ran for a minute). Default 500. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Node options of the node process (e.g. ["--max-old-space-size=4096"]). */
  execArgv?: string[];
  /** The node process's own output (its "started" line, crash traces): shown (default) or dropped. */
  output?: "inherit" | "ignore";
}

export class NodeSupervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private stopping = false;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private done: Promise<void>;
  private finish!: () => void;
  /** How many times the node process was started. */
  starts = 0;

  constructor(
    private readonly node: NodeOptionsInput,
    private readonly options: SupervisorOptions = {},
  ) {
    super();
    this.backoffMs = options.initialBackoffMs ?? 500;
    this.done = new Promise((resolve) => (this.finish = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private log(line: string): void {
    (this.options.log ?? ((l) => process.stderr.write(`${l}\n`)))(`[supervisor ${process.pid}] ${line}`);
  }

  /** Starts the node; resolves when its process reported ready. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = fork(new URL("./worker-main.js", import.meta.url), [], {
        env: { ...process.env, GLIMPSE_NODE_OPTIONS: JSON.stringify(this.node) },
        execArgv: this.options.execArgv ?? [],
        stdio: ["ignore", this.options.output ?? "inherit", this.options.output ?? "inherit", "ipc"],
      });
      this.child = child;
      this.starts++;
      const startedAt = Date.now();
      let ready = false;
      child.on("message", (message: { type?: string }) => {
        if (message?.type === "ready" && !ready) {
          ready = true;
          this.emit("ready", child.pid);
          resolve();
        }
      });
      child.once("exit", (code, signal) => {
        this.child = undefined;
        if (!ready) reject(new Error(`worker node process exited (${signal ?? code}) before it was ready`));
        this.emit("exit", code, signal);
        if (this.stopping || code === 0) {
          this.log(`worker node ${child.pid} exited (${signal ?? code}); not restarting`);
          this.stopping = true;
          this.finish();
          return;
        }
        if (Date.now() - startedAt > 60_000) this.backoffMs = this.options.initialBackoffMs ?? 500;
        const delay = code === RESTART_EXIT_CODE ? 0 : this.backoffMs;
        if (code !== RESTART_EXIT_CODE) this.backoffMs = Math.min(this.options.maxBackoffMs ?? 30_000, this.backoffMs * 2);
        this.log(code === RESTART_EXIT_CODE ? `worker node ${child.pid} asked to restart; restarting` : `worker node ${child.pid} died (${signal ?? code}); restarting in ${delay} ms`);
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          this.start().catch((error: Error) => this.log(error.message));
        }, delay);
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
