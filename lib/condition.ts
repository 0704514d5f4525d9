/**
 * A condition variable, as Python's threading.Condition.wait_for: waiting
 * for a state that only changes when something arrives (a shared-memory
 * version reaching a worker node or one of its threads, the answers to a
 * command reaching the pool). Whoever changes the state calls wake(); each
 * waiter then checks its own predicate again. (Not the job server's WakeUps,
 * which picks the sleeping Gearman workers to send NOOP.)
 *
 *   until(holds, ms) ──holds() now?──► true
 *        │ no
 *        └──► wake() ──holds()?──► true  ·  ms passed ──► holds()  ·  signal aborted ──► rejects with its reason
 */
export class Condition {
  private readonly waiting = new Set<() => void>();

  /** Checks every waiter's condition again: call it after whatever they wait for may have changed. */
  wake(): void {
    for (const check of this.waiting) check();
  }

  /**
   * Resolves true as soon as `holds()` is true (checked now and on each
   * wake), or with `holds()` once `timeoutMs` passed; rejects with the
   * signal's reason if it aborts first.
   */
  until(holds: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (holds()) return Promise.resolve(true);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (holds()) end(() => resolve(true));
      };
      const onAbort = () => end(() => reject(signal!.reason));
      const timer = setTimeout(() => end(() => resolve(holds())), timeoutMs);
      const end = (settle: () => void) => {
        clearTimeout(timer);
        this.waiting.delete(check);
        signal?.removeEventListener("abort", onAbort);
        settle();
      };
      this.waiting.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
