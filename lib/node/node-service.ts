/**
 * Whether a worker node takes chunks, and which Gearman functions it holds
 * registered for that (docs/labels.md):
 *
 *   serving ──drain──► draining ──its last held chunk ends──► drained
 *      ▲                  │ grabs no job; waiting chunks        │ unregistered
 *      │                  │ handed back; running ones finish    │ every function
 *      └──────online (registers again, grabs again)───────────────┘
 *
 * A draining node stays registered until its running chunks are done:
 * gearmand 1.1.20 answers CANT_DO by putting the worker's running jobs of
 * that function back in its queue and dropping their results, so CANT_DO
 * comes only once the node holds nothing (after the last result was sent).
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

  /** Whether `func` is registered now (a job of a function that is not came by a grab sent before it was unregistered). */
  registers(func: string): boolean {
    return this.registered.has(func);
  }

  /** Registers every function (CAN_DO each) and grabs again; maxChunks counts anew. */
  serve(): void {
    this.remaining = this.options.maxChunks ?? Infinity;
    if (this.handBacks.signal.aborted) this.handBacks = new AbortController();
    this.worker.setConcurrency(this.concurrency());
    for (const func of this.functions) {
      if (this.registered.has(func)) continue;
      this.registered.add(func);
      this.worker.register(func, this.handler);
    }
    this.worker.resume();
    this.setState("serving");
  }

  /**
   * Grabs no new chunk; with `handBack`, the chunks held but not started go back. Once the node holds none
   * (at once when it holds none now) it unregisters every function (CANT_DO each) and is drained.
   */
  drain(handBack = true): void {
    this.worker.pause();
    if (handBack && !this.handBacks.signal.aborted) this.handBacks.abort(handedBack(this.options.nodeId));
    if (this.current === "serving") this.setState("draining");
    if (this.held === 0) this.finishDrain();
  }

  /** Unregisters after the results of the last chunks were sent: they go out once this turn of the event loop ends. */
  private finishDrain(): void {
    setImmediate(() => {
      if (this.held !== 0 || this.current !== "draining") return;
      for (const func of this.registered) this.worker.unregister(func);
      this.registered.clear();
      this.setState("drained");
    });
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
        if (this.held === 0 && this.current === "draining") this.finishDrain();
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
