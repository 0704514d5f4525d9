/**
 * Drops connections that promised to keep talking and fell silent, so the
 * jobs a silently lost worker held go back to their queues within seconds
 * (TCP would take minutes, keepalive tens of seconds).
 *
 *   ECHO_REQ "glimpse-probe 2000 TOKEN" ──► the peer promises to send something at least every 2000 ms
 *   bytes from it ──► heard
 *   silent for SILENT_PEER_FACTOR × its interval ──► drop(peer): a worker is closed, as if it had
 *                                                   disconnected (its jobs are requeued); anyone else is left
 *                                                   alone (drop answers false) and checked again later
 *
 * Only our own clients and workers probe (lib/gearman/liveness.ts); other
 * peers are never dropped for silence (TCP keepalive covers them). Nor are
 * clients: a silent client holds no job anyone waits for, and one whose event
 * loop is busy for a while must not lose its jobs. Silence is counted on the
 * liveness clock, which a stalled event loop of the server does not move, and
 * checked again after the next poll for input before a peer is dropped.
 */
import { livenessClock, probeInterval, SILENT_PEER_FACTOR, type LivenessWatcher } from "../gearman/liveness.js";

interface Watched {
  /** Drop after this long without a byte. */
  limitMs: number;
  heardAt: number;
}

export class SilentPeers<Peer extends object> implements LivenessWatcher {
  private readonly probing = new Map<Peer, Watched>();

  /** `drop` closes a silent peer and answers true, or answers false to leave it (it is checked again later). */
  constructor(private readonly drop: (peer: Peer, silentMs: number) => boolean) {}

  /** Bytes came from `peer` (called on every read: a lookup and nothing more for peers that do not probe). */
  heard(peer: Peer): void {
    const promise = this.probing.get(peer);
    if (promise) promise.heardAt = livenessClock.now;
  }

  /** An ECHO_REQ from `peer`: a probe makes it a peer that must keep talking. */
  echo(peer: Peer, data: Buffer): void {
    if (this.probing.has(peer)) return;
    const interval = probeInterval(data);
    if (interval === undefined) return;
    if (this.probing.size === 0) livenessClock.add(this);
    this.probing.set(peer, { limitMs: interval * SILENT_PEER_FACTOR, heardAt: livenessClock.now });
  }

  /** The peer is gone. */
  forget(peer: Peer): void {
    if (this.probing.delete(peer) && this.probing.size === 0) livenessClock.delete(this);
  }

  /** LivenessWatcher. */
  check(now: number): void {
    for (const [peer, promise] of this.probing) {
      if (now - promise.heardAt < promise.limitMs) continue;
      const heardAt = promise.heardAt;
      setImmediate(() => {
        if (this.probing.get(peer) !== promise || promise.heardAt !== heardAt) return;
        if (this.drop(peer, Math.round(livenessClock.now - heardAt))) this.forget(peer);
      });
    }
  }

  /** Stops watching every peer. */
  clear(): void {
    this.probing.clear();
    livenessClock.delete(this);
  }
}
