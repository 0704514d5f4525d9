/**
 * A ZeroMQ subscriber whose receive loop hands [topic, body] to a callback and
 * ends quietly on close. With a guard (this side has the cluster secret) it
 * passes on only messages whose signature frame verifies and that are new;
 * without one, only unsigned two-frame messages. Everything else goes to
 * `onRefused` and is dropped.
 */
import * as zmq from "zeromq";
import { attach, type Endpoint } from "./socket-options.js";
import { releaseCurve } from "../security/curve.js";
import { SignatureError } from "../security/errors.js";
import type { MessageGuard } from "../security/message-guard.js";

export interface SubscriberChecking {
  readonly guard: MessageGuard | undefined;
  readonly kind: "command" | "log";
  /** A message that was refused, with the reason; it is dropped. */
  readonly onRefused?: (error: SignatureError, topic: string, body: Buffer) => void;
}

export class LoopingSubscriber {
  readonly socket = new zmq.Subscriber({ linger: 0 });
  endpoint = "";
  private attached: Endpoint | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Frames that were not topic/body(/signature) messages, or that the callback threw on. */
  malformed = 0;
  /** Messages refused by signature checking. */
  refused = 0;

  constructor(private readonly checking?: SubscriberChecking) {}

  async open(
    endpoint: Endpoint,
    topics: readonly string[],
    onMessage: (topic: string, body: Buffer) => void,
  ): Promise<void> {
    for (const topic of topics) this.socket.subscribe(topic);
    this.attached = endpoint;
    this.endpoint = await attach(this.socket, endpoint);
    this.loop = (async () => {
      while (!this.closed) {
        let frames: Buffer[];
        try {
          frames = await this.socket.receive();
        } catch {
          if (this.closed) return;
          continue;
        }
        if (frames.length !== 2 && frames.length !== 3) {
          this.malformed++;
          continue;
        }
        const [topic, body, signature] = frames;
        try {
          this.check(topic, body, signature);
        } catch (error) {
          if (!(error instanceof SignatureError)) throw error;
          this.refused++;
          this.checking?.onRefused?.(error, topic.toString(), body);
          continue;
        }
        try {
          onMessage(topic.toString(), body);
        } catch {
          this.malformed++;
        }
      }
    })();
  }

  private check(topic: Buffer, body: Buffer, signature: Buffer | undefined): void {
    const what = `${this.checking?.kind ?? "channel"} message on topic "${topic.toString()}"`;
    const guard = this.checking?.guard;
    if (!guard) {
      if (signature) throw new SignatureError("no-secret", what);
      return;
    }
    guard.check(this.checking!.kind, [topic, body], signature, what);
  }

  subscribe(topic: string): void {
    this.socket.subscribe(topic);
  }

  /**
   * Closes at once, without unbinding first: the receive pending in the loop would race the unbind (see
   * `release`). Closing ends that receive on this thread; ZeroMQ frees a bound port a moment later.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.socket.close();
    releaseCurve(this.attached?.curve, this.attached?.bind ? "bind" : "connect");
    await this.loop;
  }
}
