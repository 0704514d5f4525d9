/**
 * A ZeroMQ publisher that queues sends (zeromq allows one send in flight per
 * socket), never throws on a closed socket, and signs every message when it
 * has a cluster key: frames [topic, body, signature].
 */
import * as zmq from "zeromq";
import { attach, release, type Endpoint } from "./socket-options.js";
import { releaseCurve } from "../security/curve.js";
import type { ClusterKey } from "../security/cluster-key.js";

export interface PublisherSigning {
  readonly key: ClusterKey;
  /** Which key of the cluster signs: commands or logs. */
  readonly kind: "command" | "log";
}

/** How long ZeroMQ keeps trying to write what was sent before close (in the background: close returns at once). */
const CLOSE_LINGER_MS = 250;

export class QueuedPublisher {
  readonly socket = new zmq.Publisher({ linger: 0, sendHighWaterMark: 10_000 });
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  /** The actual endpoint after a bind (with the real port), or the URL connected to. */
  endpoint = "";
  private attached: Endpoint | undefined;

  constructor(private readonly signing?: PublisherSigning) {}

  async open(endpoint: Endpoint): Promise<void> {
    this.attached = endpoint;
    this.endpoint = await attach(this.socket, endpoint);
  }

  send(topic: string, body: string): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.closed) return;
      try {
        if (this.signing) {
          // Signed at send time: a message published again gets a fresh time and nonce.
          const frames = [Buffer.from(topic), Buffer.from(body)];
          await this.socket.send([...frames, this.signing.key.sign(this.signing.kind, frames)]);
        } else {
          await this.socket.send([topic, body]);
        }
      } catch {
        // A closed socket or a full queue drops the message, as PUB/SUB does; callers that need delivery wait for acknowledgements.
      }
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain;
    this.closed = true;
    await release(this.socket, this.endpoint, this.attached);
    // A send resolves once queued: ZeroMQ gets a moment, on its own thread, to write the last ones out
    // (a closing pool's cancels) instead of dropping them with the socket.
    this.socket.linger = CLOSE_LINGER_MS;
    this.socket.close();
    releaseCurve(this.attached?.curve, this.attached?.bind ? "bind" : "connect");
  }
}
