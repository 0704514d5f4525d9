/**
 * Maps' progress, published for dashboards: to this process's own
 * listeners at once (a dashboard on the pool's channels), and, through a
 * broker, to its log frontend, where the nodes publish their logs (signed
 * with the cluster key), for dashboards of other processes to hear.
 *
 *   forMap(...) ──ProgressPublisher (≤ 4 updates a second, always its end)──► publish ──┬──► LogChannel.deliver (this process)
 *                                                                                       └──► progressUrl (topic "progress"), opened on first use
 */
import os from "node:os";
import { CHANNEL_VERSION, TOPIC_PROGRESS, type LogEnvelope, type MapProgress } from "../channels/messages.js";
import { QueuedPublisher } from "../channels/publisher.js";
import type { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";
import type { LogChannel } from "./log-channel.js";
import { ProgressPublisher } from "./progress-publisher.js";

export interface ProgressChannelOptions {
  /** The broker's log frontend. None (direct mode): progress reaches only this process's listeners. */
  readonly url?: string;
  readonly key?: ClusterKey;
  readonly curve?: CurveSettings;
}

export class ProgressChannel {
  /** Opened on the first progress published, when there is a url. */
  private publisher: Promise<QueuedPublisher> | undefined;
  private counter = 0;
  private closed = false;
  /** Read once: os.hostname() is a system call, and a one-item map publishes twice. */
  private readonly host = os.hostname();

  /** `clientId`: the sender the envelopes name (a pool, not a node). */
  constructor(
    private readonly options: ProgressChannelOptions,
    private readonly clientId: string,
    private readonly log: LogChannel,
  ) {}

  /** The throttled progress of one map: update() as chunks finish, end() once. */
  forMap(mapId: string, functionName: string, total: number | undefined): ProgressPublisher {
    return new ProgressPublisher((progress) => this.publish(progress), mapId, functionName, total);
  }

  /** Publishes one update of a map's progress now. */
  publish(progress: MapProgress): void {
    if (this.closed) return;
    const envelope: LogEnvelope = {
      v: CHANNEL_VERSION,
      id: `${this.clientId}-p${++this.counter}`,
      node: this.clientId,
      host: this.host,
      pid: process.pid,
      time: Date.now(),
      message: { type: "progress", ...progress },
    };
    this.log.deliver(envelope);
    const { url, key, curve } = this.options;
    if (url === undefined) return;
    this.publisher ??= (async () => {
      const publisher = new QueuedPublisher(key && { key, kind: "log" });
      await publisher.open({ url, bind: false, curve });
      return publisher;
    })();
    void this.publisher.then(
      (publisher) => publisher.send(TOPIC_PROGRESS, JSON.stringify(envelope)),
      () => {},
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.publisher?.then((publisher) => publisher.close());
  }
}
