/**
 * One connection to the server: a client, a worker, an admin session, or any
 * mix (the protocol lets one connection be all three). Writes made in one tick
 * go out in one syscall (cork until the next tick).
 */
import type net from "node:net";
import type { Job } from "./job.js";

export class Peer {
  /** Shown as the "fd" of admin `workers`. */
  readonly id: number;
  readonly address: string;
  clientId = "-";
  /** Sent OPTION_REQ "exceptions": gets WORK_EXCEPTION rather than WORK_FAIL. */
  exceptions = false;
  /** Functions this worker can do, with their CAN_DO_TIMEOUT in ms (0: none), in registration order. */
  readonly abilities = new Map<string, number>();
  sleeping = false;
  /** Jobs a worker holds now. */
  readonly held = new Set<Job>();
  /** Foreground jobs this client waits for. */
  readonly waiting = new Set<Job>();
  closed = false;
  private corked = false;

  constructor(
    id: number,
    readonly socket: net.Socket,
    private readonly writeLimit: number,
    private readonly onTooSlow: (peer: Peer) => void,
  ) {
    this.id = id;
    this.address = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
  }

  send(bytes: Buffer | string): void {
    if (this.closed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.socket.write(bytes);
    if (this.socket.writableLength > this.writeLimit) this.onTooSlow(this);
  }

  /** Whether the peer is behind on reading what we sent. */
  get backedUp(): boolean {
    return this.socket.writableNeedDrain;
  }
}

function uncork(peer: Peer): void {
  peer["corked"] = false;
  peer.socket.uncork();
}
