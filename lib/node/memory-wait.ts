/**
 * Waiting for a shared-memory version, the one way both a worker node's
 * main thread (NodeMemory) and each of its threads (chunk-runner) do it: a
 * chunk that needs a version not held yet asks for it and waits until it
 * arrives, for at most waitMs.
 *
 *   ready(version) ──held already?──► resolves at once
 *        │ no: ask (again every askEveryMs, when the way asked may lose it)
 *        └──► arrived() with that version or newer ──► resolves
 *             · waitMs passed ──► NodeError MEMORY_TIMEOUT · the signal aborted ──► rejects with its reason
 */
import { Condition } from "../condition.js";
import { memoryTimedOut } from "./errors.js";

/** How a missing version is asked for. */
export interface MemoryAsking {
  /** Asks whoever holds the memory for `version`. */
  readonly ask: (version: number) => void;
  /** Ask again this often while waiting, in ms (the request may be lost). Default: once. */
  readonly askEveryMs?: number;
}

export class MemoryWait {
  private readonly arrivals = new Condition();

  constructor(
    /** Whose memory this is, for the timeout's message: "worker node ID", "this worker thread". */
    private readonly where: string,
    /** The version held now. */
    private readonly held: () => number,
    private readonly asking: MemoryAsking,
  ) {}

  /** Call whenever a newer version is held. */
  arrived(): void {
    this.arrivals.wake();
  }

  /** Resolves once `version` (or a newer one) is held; rejects after waitMs, or with the signal's reason. */
  async ready(version: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    if (this.held() >= version) return;
    const ask = () => this.asking.ask(version);
    ask();
    const again = this.asking.askEveryMs === undefined ? undefined : setInterval(ask, this.asking.askEveryMs);
    try {
      if (!(await this.arrivals.until(() => this.held() >= version, waitMs, signal)))
        throw memoryTimedOut(this.where, version, waitMs, this.held());
    } finally {
      clearInterval(again);
    }
  }
}
