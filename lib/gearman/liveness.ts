/**
 * Liveness of Gearman connections: how our clients, workers and the embedded
 * job server tell a silent peer (a cut link, a hung or vanished host) from a
 * quiet one within seconds, where TCP alone takes minutes.
 *
 *   a GearmanClient's or GearmanWorker's connection (connection.ts):
 *     nothing heard, or nothing sent, for PROBE_EVERY_MS ──► ECHO_REQ "glimpse-probe 2000 TOKEN" (its reply is
 *                                                           swallowed: the connection's owner never sees it)
 *     still nothing heard PROBE_ANSWER_MS after the probe ──► connection dropped, then reconnected
 *   the embedded job server (lib/server/silent-peers.ts):
 *     a peer that sent such a probe promised to send something at least every 2000 ms; silent for
 *     SILENT_PEER_FACTOR times that, it is dropped, and the jobs its worker held go back to their queues
 *
 * Any Gearman server answers ECHO_REQ (gearmand too, even to a worker asleep after PRE_SLEEP, which it
 * still wakes with NOOP), so probing needs nothing of the server. Deadlines count on `livenessClock`,
 * which a stalled event loop does not move: it advances at most two ticks per tick, so a process that
 * was busy or starved of CPU for ten seconds never takes its peers for dead before it has read what they
 * sent meanwhile (and a deadline that passes is checked once more after the next poll for input).
 */
import { randomBytes } from "node:crypto";

/** A connection sends a probe after this long without hearing from its server, or without sending to it. */
export const PROBE_EVERY_MS = 2000;
/** A probe still unanswered after this long (nothing at all heard since it left) drops the connection. */
export const PROBE_ANSWER_MS = 3000;
/** The embedded server drops a probing peer silent for this many of its probe intervals. */
export const SILENT_PEER_FACTOR = 3;
/** How often deadlines are checked. */
export const TICK_MS = 500;

const PROBE_PREFIX = "glimpse-probe ";
const PREFIX_BYTES = Buffer.from(PROBE_PREFIX);

/** The ECHO_REQ data of one connection's probes: the prefix, the interval it promises, and a token of its own. */
export function probeData(): Buffer {
  return Buffer.from(`${PROBE_PREFIX}${PROBE_EVERY_MS} ${randomBytes(6).toString("hex")}`);
}

/** The interval (ms) a probe's ECHO_REQ data promises, or undefined when the data is not a probe. */
export function probeInterval(data: Buffer): number | undefined {
  if (data.length <= PREFIX_BYTES.length || data.compare(PREFIX_BYTES, 0, PREFIX_BYTES.length, 0, PREFIX_BYTES.length))
    return undefined;
  const interval = Number.parseInt(data.toString("latin1", PREFIX_BYTES.length, PREFIX_BYTES.length + 12), 10);
  return Number.isSafeInteger(interval) && interval > 0 ? interval : undefined;
}

export interface LivenessWatcher {
  /** Called every tick with the clock's time. */
  check(now: number): void;
}

/** One ticking clock for every watched connection of the process (unref'd: it keeps nothing alive). */
class LivenessClock {
  /** Milliseconds, advancing with real time but by at most two ticks per tick. */
  now = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<LivenessWatcher>();

  add(watcher: LivenessWatcher): void {
    this.watchers.add(watcher);
    if (this.timer) return;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  delete(watcher: LivenessWatcher): void {
    this.watchers.delete(watcher);
    if (this.watchers.size > 0 || !this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const real = performance.now();
    this.now += Math.min(real - this.last, 2 * TICK_MS);
    this.last = real;
    for (const watcher of this.watchers) watcher.check(this.now);
  }
}

export const livenessClock = new LivenessClock();
