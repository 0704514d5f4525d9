/**
 * What the scheduler needs of a client or worker connection: a name for
 * logs, and a way to queue response packets to it. The job server's Peer
 * is one (it batches them into one socket write per tick); tests drive the
 * scheduler with connections that only record what they were sent.
 */
import type { Packet } from "../gearman/packet.js";

/** A packet argument: a byte string (latin1: one char per byte), or bytes (payloads). */
export type PacketArg = string | Buffer;

export interface Connection {
  /** "ip:port" of the other end, or another name, for logs and errors. */
  readonly address: string;
  /**
   * Queues a response packet of `type` with these arguments (NUL-separated;
   * absent ones are left out). Never throws; a closed connection drops it.
   */
  packet(type: number, a?: PacketArg, b?: PacketArg, c?: PacketArg, d?: PacketArg, e?: PacketArg, f?: PacketArg): void;
  /**
   * Queues a worker's WORK_* request as the response of the same type with the same body.
   * `only`: this connection is the one it goes to, so a large received frame may be handed over
   * whole (an in-process client then keeps it without a copy).
   */
  forward(packet: Packet, only?: boolean): void;
}
