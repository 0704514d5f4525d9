/**
 * What a person wants to read about a client's or a worker's job server
 * connections: one line per change, never one per reconnect attempt.
 *
 *   "disconnect" while connected ──► lost job server X: REASON; reconnecting
 *   "disconnect" while not       ──► the first failed attempt, or a new reason: cannot reach job server X: REASON
 *                                    the same reason again: nothing; every REPEAT_MS: still cannot reach ... (N attempts)
 *   "connect"                    ──► connected (or reconnected) to job server X (after N failed attempts over T s, if any)
 *
 * GearmanClient and GearmanWorker emit "connect"(server) and
 * "disconnect"(server, error) for every connection made, lost or failed.
 */
import type { EventEmitter } from "node:events";
import { reasonAt } from "./errors.js";

/** How often a server that stays unreachable is named again. */
export const REPEAT_MS = 60_000;

interface LinkState {
  connected: boolean;
  /** It was connected once. */
  ever: boolean;
  /** Failed attempts since the last connection (or the start). */
  failures: number;
  /** When the first of them ended. */
  since: number;
  reason: string | undefined;
  /** When the last line about this server was written. */
  saidAt: number;
}

/**
 * Writes the lines for `source`'s connections to `log`; returns a function that stops it (before a
 * close, whose disconnects are no news). `firstConnect: false` leaves out a first connection made
 * without a failure before it (for a program whose every start would say it).
 */
export function logLinks(
  source: EventEmitter,
  log: (line: string) => void,
  options: { firstConnect?: boolean } = {},
): () => void {
  const firstConnect = options.firstConnect ?? true;
  const links = new Map<string, LinkState>();
  const stateOf = (server: string): LinkState => {
    let state = links.get(server);
    if (!state)
      links.set(
        server,
        (state = { connected: false, ever: false, failures: 0, since: 0, reason: undefined, saidAt: 0 }),
      );
    return state;
  };
  const onConnect = (server: string) => {
    const state = stateOf(server);
    const after =
      state.failures === 0
        ? ""
        : ` after ${state.failures} failed attempt${state.failures === 1 ? "" : "s"} over ${seconds(performance.now() - state.since)}`;
    if (state.ever || state.failures > 0 || firstConnect)
      log(`${state.ever ? "reconnected" : "connected"} to job server ${server}${after}`);
    Object.assign(state, { connected: true, ever: true, failures: 0, reason: undefined, saidAt: performance.now() });
  };
  const onDisconnect = (server: string, error: unknown) => {
    const state = stateOf(server);
    const reason = reasonAt(server, error);
    const now = performance.now();
    if (state.connected) {
      log(`lost job server ${server}: ${reason}; reconnecting`);
      Object.assign(state, { connected: false, failures: 0, reason, saidAt: now });
      return;
    }
    if (state.failures++ === 0) state.since = now;
    if (reason !== state.reason) {
      log(`cannot reach job server ${server}: ${reason}; trying again every few seconds`);
      Object.assign(state, { reason, saidAt: now });
    } else if (now - state.saidAt >= REPEAT_MS) {
      log(
        `still cannot reach job server ${server} (${state.failures} attempts over ${seconds(now - state.since)}): ${reason}`,
      );
      state.saidAt = now;
    }
  };
  source.on("connect", onConnect);
  source.on("disconnect", onDisconnect);
  return () => {
    source.off("connect", onConnect);
    source.off("disconnect", onDisconnect);
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
