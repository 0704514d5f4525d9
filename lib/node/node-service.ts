/**
 * Whether a worker node takes chunks, and which Gearman functions it holds
 * registered for that (docs/labels.md):
 *
 *   serving ──drain──► draining ──its last held chunk ends──► drained
 *      ▲                  │ unregistered every function;          │
 *      │                  │ waiting chunks handed back            │
 *      └──────online (registers again)──────────────────────────────┘
 *
 * `maxChunks` drains the node once it has taken that many (the chunks it holds
 * then all run), and keeps its Gearman concurrency low enough that it never
 * takes more. Events: "state" (state), "drained".
 */
import { EventEmitter } from "node:events";
import type { GearmanWorker, JobHandler } from "../gearman/worker.js";
import type { NodeState } from "../channels/messages.js";
import { nodeFunctions } from "../wire/labels.js";
import { handedBack } from "./errors.js";

export interface ServiceOptions {
  readonly nodeId: string;
  readonly labels: readonly string[];
  readonly exclusive: boolean;
  readonly maxChunks: number | undefined;
  /** Chunks the node holds at once (its threads, each with its prefetched ones). */
  readonly capacity: number;
}

/** One chunk held by the node, from its take to its end. */
export interface Lease {
  /** Aborts (with a HANDED_BACK NodeError) when the node drains: a chunk that has not started then goes back. */
  readonly handBack: AbortSignal;
  release(): void;
}

export class NodeService extends EventEmitter {
  private current: NodeState = "serving";
  private held = 0;
  /** Takes left before maxChunks drains the node. */
  private remaining: number;
  private handBacks = new AbortController();
  private readonly registered = new Set<string>();
  /** The functions registered while serving. */
  readonly functions: readonly string[];

  constructor(
    private readonly worker: GearmanWorker,
    private readonly options: ServiceOptions,
    private readonly handler: JobHandler,
  ) {
    super();
    this.functions = Object.freeze(nodeFunctions(options.labels, options.exclusive));
    this.remaining = options.maxChunks ?? Infinity;
  }

  get state(): NodeState {
    return this.current;
  }

  /** The most chunks the node may hold now: its capacity, or fewer when maxChunks leaves fewer takes. */
  concurrency(): number {
    return Math.max(1, Math.min(this.options.capacity, this.worker.running + this.remaining));
  }

  /** Whether a job of `func` may run here now (false: it came after its function was unregistered). */
  accepts(func: string): boolean {
    return this.registered.has(func);
  }

  /** Registers every function (CAN_DO each); maxChunks counts anew. */
  serve(): void {
    this.remaining = this.options.maxChunks ?? Infinity;
    if (this.handBacks.signal.aborted) this.handBacks = new AbortController();
    this.worker.setConcurrency(this.concurrency());
    for (const func of this.functions) {
      this.registered.add(func);
      this.worker.register(func, this.handler);
    }
    this.setState("serving");
  }

  /**
   * Unregisters every function (CANT_DO each), so no new chunk comes; with `handBack`, the chunks
   * held but not started go back. Drained at once when the node holds none.
   */
  drain(handBack = true): void {
    for (const func of this.registered) this.worker.unregister(func);
    this.registered.clear();
    if (handBack && !this.handBacks.signal.aborted) this.handBacks.abort(handedBack(this.options.nodeId));
    if (this.current === "serving") this.setState(this.held === 0 ? "drained" : "draining");
  }

  /** A chunk taken to run: counted against maxChunks (draining the node at the last one) until released. */
  take(): Lease {
    this.held++;
    this.remaining--;
    const handBack = this.handBacks.signal;
    if (this.remaining <= 0 && this.current === "serving") this.drain(false);
    else this.worker.setConcurrency(this.concurrency());
    let released = false;
    return {
      handBack,
      release: () => {
        if (released) return;
        released = true;
        this.held--;
        if (this.held === 0 && this.current === "draining") this.setState("drained");
      },
    };
  }

  private setState(state: NodeState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit("state", state);
    if (state === "drained") this.emit("drained");
  }
}
