/**
 * Remembers the nonces of accepted messages so each is accepted once.
 *
 * A message is accepted when its time lies in [now - maxAge, now + maxSkew],
 * its time is above the floor, and its nonce is new. Nonces are kept in
 * arrival order; the oldest leave when they age out or when the guard is
 * full, and each one that leaves raises the floor to its time. So a nonce that
 * is no longer remembered can never be accepted again: memory stays bounded
 * (`capacity` nonces) and, under a flood, the window shrinks instead.
 */
import type { RefusalReason } from "./errors.js";

export interface ReplayGuardOptions {
  /** Oldest accepted message, in ms. Default 300,000 (5 minutes). */
  maxAgeMs?: number;
  /** How far in the future a sender's clock may be, in ms. Default 60,000. */
  maxSkewMs?: number;
  /** Most nonces remembered. Default 200,000 (about 20 MB). */
  capacity?: number;
}

export class ReplayGuard {
  private readonly seen = new Map<string, number>();
  private floor = -Infinity;
  private readonly maxAgeMs: number;
  private readonly maxSkewMs: number;
  private readonly capacity: number;

  constructor(options: ReplayGuardOptions = {}) {
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.maxSkewMs = options.maxSkewMs ?? 60_000;
    this.capacity = options.capacity ?? 200_000;
  }

  /** Accepts (and remembers) the message, or says why not. */
  admit(nonce: string, time: number, now = Date.now()): RefusalReason | undefined {
    this.forgetBefore(now - this.maxAgeMs);
    if (time < now - this.maxAgeMs || time > now + this.maxSkewMs || time <= this.floor) return "stale";
    if (this.seen.has(nonce)) return "replayed";
    this.seen.set(nonce, time);
    while (this.seen.size > this.capacity) this.evictOldest();
    return undefined;
  }

  get size(): number {
    return this.seen.size;
  }

  private forgetBefore(limit: number): void {
    for (const [, time] of this.seen) {
      if (time >= limit) return;
      this.evictOldest();
    }
  }

  private evictOldest(): void {
    const [nonce, time] = this.seen.entries().next().value!;
    this.seen.delete(nonce);
    if (time > this.floor) this.floor = time;
  }
}
