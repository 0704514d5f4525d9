/** A ZeroMQ subscriber whose receive loop hands frames to a callback and ends quietly on close. */
import * as zmq from "zeromq";
import { attach, type Endpoint } from "./socket-options.js";

export class LoopingSubscriber {
  readonly socket = new zmq.Subscriber({ linger: 0 });
  endpoint = "";
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Frames that were not two-part topic/body messages. */
  malformed = 0;

  async open(endpoint: Endpoint, topics: readonly string[], onMessage: (topic: string, body: Buffer) => void): Promise<void> {
    for (const topic of topics) this.socket.subscribe(topic);
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
        if (frames.length !== 2) {
          this.malformed++;
          continue;
        }
        try {
          onMessage(frames[0].toString(), frames[1]);
        } catch {
          this.malformed++;
        }
      }
    })();
  }

  subscribe(topic: string): void {
    this.socket.subscribe(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.socket.close();
    await this.loop;
  }
}
