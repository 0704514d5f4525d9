/**
 * What a connecting ZeroMQ socket has seen of its endpoint, from the socket's
 * monitor events: connected now, or what the attempts met. ZeroMQ retries a
 * failed connection by itself and reports no error number, but the events
 * it reports tell the failures apart (seen on Linux, libzmq 4.3):
 *
 *   connect:delay ──(ms later) close ──► retry   refused: the host answered, nothing listens there
 *   connect:delay ──nothing (or close after 1 s+)  silent:  no answer at all (host down, link cut, packets dropped)
 *   close ──► retry (no connect:delay)            no route to the address
 *   retry alone                                   the host name does not resolve
 *   connect ──► disconnect                        lost: connected, then dropped, not back yet
 *
 * The words for each are the control plane's (lib/control/reachability.ts).
 */
import type * as zmq from "zeromq";

export type ConnectionTrouble = "refused" | "silent" | "no-route" | "unresolved" | "lost" | "pending";

/** An attempt under way this long without an answer is silent: a refused one ends in milliseconds. */
const SILENT_MS = 1000;

export class ConnectionWatch {
  private connected = false;
  /** When the attempt under way (connect:delay) began; undefined when none is. */
  private attemptSince: number | undefined;
  /** Whether a connect:delay or a close came since the last retry. */
  private seenSinceRetry = false;
  private failure: ConnectionTrouble | undefined;

  /** `changed` is called whenever the connection comes up or drops. */
  constructor(socket: zmq.Socket, changed: () => void) {
    const events = socket.events;
    events.on("connect", () => {
      this.connected = true;
      this.attemptSince = undefined;
      this.failure = undefined;
      changed();
    });
    events.on("disconnect", () => {
      this.connected = false;
      this.failure = "lost";
      this.seenSinceRetry = true;
      changed();
    });
    events.on("connect:delay", () => {
      this.attemptSince = Date.now();
      this.seenSinceRetry = true;
    });
    events.on("close", () => {
      if (this.connected) return;
      // An attempt that ends after a second or more was not refused: it met silence until its connect timeout.
      const since = this.attemptSince;
      this.failure = since === undefined ? "no-route" : Date.now() - since >= SILENT_MS ? "silent" : "refused";
      this.attemptSince = undefined;
      this.seenSinceRetry = true;
    });
    events.on("connect:retry", () => {
      if (!this.seenSinceRetry) this.failure = "unresolved";
      this.seenSinceRetry = false;
    });
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Why it is not connected, from what the attempts met; undefined when it is. */
  get trouble(): ConnectionTrouble | undefined {
    if (this.connected) return undefined;
    if (this.attemptSince !== undefined && Date.now() - this.attemptSince >= SILENT_MS) return "silent";
    return this.failure ?? "pending";
  }
}
