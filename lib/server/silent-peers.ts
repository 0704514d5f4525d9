/**
 * Drops connections that promised to keep talking and fell silent, so the
 * jobs a silently lost worker held go back to their queues within seconds
 * (TCP would take minutes, keepalive tens of seconds).
 *
 *   ECHO_REQ "glimpse-probe 2000 TOKEN" ──► the peer promises to send something at least every 2000 ms
 *   bytes from it ──► heard
 *   silent for SILENT_PEER_FACTOR × its interval ──► a worker (it registered a function, or holds a job):
 *                                                   Peer.drop, as if it had disconnected (the server's
 *                                                   close handler requeues its jobs); anyone else is left
 *                                                   alone and checked again later
 *
 * Only our own clients and workers probe (lib/gearman/liveness.ts); other
 * peers are never dropped for silence (TCP keepalive covers them). Nor are
 * clients: a silent client holds no job anyone waits for, and one whose event
 * loop is busy for a while must not lose its jobs. Silence is counted on the
 * liveness clock, which a stalled event loop of the server does not move, and
 * checked again after the next poll for input before a peer is dropped.
 * The job server calls down into this; this calls down into the Peer.
 */
import { livenessClock, probeInterval, SILENT_PEER_FACTOR, type LivenessWatcher } from "../gearman/liveness.js";
import type { Peer } from "./peer.js";
import type { Session } from "./scheduler-state.js";

interface Watched {
  readonly session: Session;
  /** Drop after this long without a byte. */
  readonly limitMs: number;
  heardAt: number;
}

export class SilentPeers implements LivenessWatcher {
  private readonly probing = new Map<Peer, Watched>();

  /** Bytes came from `peer` (called on every read: a lookup and nothing more for peers that do not probe). */
  heard(peer: Peer): void {
    const promise = this.probing.get(peer);
    if (promise) promise.heardAt = livenessClock.now;
  }

  /** An ECHO_REQ from `peer`: a probe makes it a peer that must keep talking. */
  echo(peer: Peer, session: Session, data: Buffer): void {
    if (this.probing.has(peer)) return;
    const interval = probeInterval(data);
    if (interval === undefined) return;
    if (this.probing.size === 0) livenessClock.add(this);
    this.probing.set(peer, { session, limitMs: interval * SILENT_PEER_FACTOR, heardAt: livenessClock.now });
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
        const { session } = promise;
        if (session.abilities.size === 0 && session.held.size === 0) return;
        const silentMs = Math.round(livenessClock.now - heardAt);
        this.forget(peer);
        peer.drop(
          `a worker (${session.clientId}) silent for ${silentMs} ms though it probes (its host or the network to it is down)`,
        );
      });
    }
  }

  /** Stops watching every peer. */
  clear(): void {
    this.probing.clear();
    livenessClock.delete(this);
  }
}
