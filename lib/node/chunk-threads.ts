/**
 * A worker node's threads (piscina), each holding the chunk it runs plus up
 * to `prefetch` chunks waiting behind it. A thread that finishes a chunk
 * starts the next one at once, without waiting for the node's main thread to
 * be scheduled, to send WORK_COMPLETE, to grab and to hand it a new chunk:
 * on a busy machine each of those wake-ups costs up to a scheduler slice.
 *
 * Piscina stops a task only by terminating its thread, and never puts a task
 * that can be stopped behind another on a busy thread. So chunks go to
 * piscina without a signal and are stopped here, through a phase each chunk
 * shares with its thread (an Int32Array on a SharedArrayBuffer):
 *
 *   waiting ──the thread takes it──► running (+ the thread's id) ──► done
 *      │                                  │
 *   stop(): cancelled, the thread         stop(): that thread is terminated; chunks that
 *   skips it when it comes to it          were waiting behind it run again on another
 *   hand back: the same, and the chunk's   hand back: nothing (it runs to its end)
 *   run() rejects with `HANDED_BACK`
 */
import type { Piscina } from "piscina";
import type { ResourceLimits } from "node:worker_threads";
import { threadsClosed } from "./errors.js";
import { fixedThreadPool } from "../threads/thread-pool.js";
import { PHASE, PHASE_SLOT, THREAD_SLOT, type ChunkRunnerData, type ChunkTask } from "./chunk-runner.js";
import type { FunctionPolicy } from "./function-policy.js";
import type { ChunkOutputSink, OutputLink } from "./thread-output.js";
import { readChunkRequest, type ChunkRequestHead } from "../wire/chunk-codec.js";

/** Times a chunk goes to another thread after the one it waited on died, before it fails. */
const MAX_REHOMES = 8;

export interface ChunkThreadsOptions {
  readonly threads: number;
  /** Chunks each thread holds waiting behind the one it runs. */
  readonly prefetch: number;
  readonly resourceLimits: ResourceLimits | undefined;
  readonly policy: FunctionPolicy;
  readonly memoryWaitMs: number;
  /** Where the threads forward their functions' console output; none: it stays the threads' (the node's stdout). */
  readonly output?: OutputLink;
  /** The pool's payload directory, when the node shares its host (lib/wire/payload-file.ts). */
  readonly payloadDirectory?: string;
}

export class ChunkThreads {
  private readonly pool: Piscina;
  private destroyed = false;
  /** The phase of every chunk handed to run() and not settled yet. */
  private readonly held = new Set<Int32Array>();
  /** Chunks held at once: running and waiting. */
  readonly capacity: number;

  constructor(private readonly options: ChunkThreadsOptions) {
    this.capacity = options.threads * (1 + options.prefetch);
    // No queue limit: the node's Gearman concurrency (capacity) bounds the chunks held, and a limit would
    // refuse the chunks re-run after a stopped thread while its replacement starts.
    this.pool = fixedThreadPool(new URL("./chunk-runner.js", import.meta.url), {
      threads: options.threads,
      tasksPerThread: 1 + options.prefetch,
      resourceLimits: options.resourceLimits,
      workerData: {
        policy: options.policy,
        output: options.output,
        payloadDirectory: options.payloadDirectory,
      } satisfies ChunkRunnerData,
    });
  }

  /**
   * Runs a chunk request on a thread; resolves with the response bytes. Aborting `signal` stops it and rejects with the signal's reason.
   * Aborting `handBack` withdraws it only while it still waits for a thread: it then never runs, and run() rejects with the reason.
   */
  run(
    request: Uint8Array,
    signal: AbortSignal,
    handBack?: AbortSignal,
    head?: ChunkRequestHead,
    output?: ChunkOutputSink,
  ): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (handBack?.aborted) return reject(handBack.reason);
      // The thread decodes only the body: header and meta are read here, once (the node has read them already).
      const requestHead = head ?? readChunkRequest(request);
      const phase = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
      this.held.add(phase);
      const settle = (end: () => void) => {
        this.held.delete(phase);
        end();
      };
      const onAbort = () => {
        handBack?.removeEventListener("abort", onHandBack);
        this.stop(phase);
        settle(() => reject(signal.reason));
      };
      const onHandBack = () => {
        if (Atomics.compareExchange(phase, PHASE_SLOT, PHASE.waiting, PHASE.cancelled) !== PHASE.waiting) return;
        signal.removeEventListener("abort", onAbort);
        settle(() => reject(handBack!.reason));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      handBack?.addEventListener("abort", onHandBack, { once: true });
      let rehomed = 0;
      const attempt = (): void => {
        // The request goes as a copy of its own moved to the thread: one copy, where a structured clone makes two
        // and clones the whole buffer a small request lies in; in a buffer of its own its numbers lie aligned
        // (number-body.ts). The original stays here in case the thread dies before taking it.
        const bytes = new Uint8Array(request);
        const task: ChunkTask = {
          request: bytes,
          head: requestHead,
          memoryWaitMs: this.options.memoryWaitMs,
          phase: phase.buffer as SharedArrayBuffer,
          output,
        };
        this.pool.run(task, { transferList: [bytes.buffer as ArrayBuffer] }).then(
          (bytes: Uint8Array | null) => {
            signal.removeEventListener("abort", onAbort);
            handBack?.removeEventListener("abort", onHandBack);
            settle(() => (bytes === null ? reject(signal.reason) : resolve(bytes)));
          },
          (error: unknown) => {
            // Its thread died before taking it (a chunk ahead of it was stopped or ran the thread out of memory): it never
            // ran, so run it again, after a turn of the event loop (a replacement thread must be able to start) and a few times at most.
            if (
              !signal.aborted &&
              !this.destroyed &&
              Atomics.load(phase, PHASE_SLOT) === PHASE.waiting &&
              rehomed++ < MAX_REHOMES
            ) {
              return void setImmediate(attempt);
            }
            signal.removeEventListener("abort", onAbort);
            handBack?.removeEventListener("abort", onHandBack);
            settle(() => reject(this.destroyed ? threadsClosed() : error));
          },
        );
      };
      attempt();
    });
  }

  /** Chunks held now: `running` on a thread, and `waiting` behind a running one (prefetched) or for a thread. */
  counts(): { readonly running: number; readonly waiting: number } {
    let running = 0;
    let waiting = 0;
    for (const phase of this.held) {
      const now = Atomics.load(phase, PHASE_SLOT);
      if (now === PHASE.running) running++;
      else if (now === PHASE.waiting) waiting++;
    }
    return { running, waiting };
  }

  private stop(phase: Int32Array): void {
    if (Atomics.compareExchange(phase, PHASE_SLOT, PHASE.waiting, PHASE.cancelled) === PHASE.waiting) return;
    if (Atomics.load(phase, PHASE_SLOT) !== PHASE.running) return;
    const threadId = Atomics.load(phase, THREAD_SLOT);
    void this.pool.threads.find((thread) => thread.threadId === threadId)?.terminate();
  }

  destroy(): Promise<void> {
    this.destroyed = true;
    return this.pool.destroy();
  }
}
