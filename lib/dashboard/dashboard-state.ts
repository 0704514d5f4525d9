/**
 * What the dashboard shows, kept from what it hears: nodes from their ping
 * replies (items/s from successive replies; gone when not heard for
 * NODE_GONE_MS), maps from the pools' progress, the log channel's last
 * records, the cluster's throughput over the last ten minutes, and the job
 * servers' status and the warnings from the last poll.
 */
import type { LogEnvelope, MapProgress, NodeStatsSnapshot } from "../channels/messages.js";
import type { JobServerStatus } from "./job-server-watch.js";
import type { DashboardWarning } from "./dashboard-warnings.js";
import { recordText } from "../control/log-channel.js";

/** A node not heard from for this long is gone from the page (the dashboard pings every second). */
export const NODE_GONE_MS = 3500;
/** Finished maps stay on the page this long. */
export const MAP_KEPT_MS = 60_000;
export const THROUGHPUT_SECONDS = 600;
export const LOG_LINES = 200;

export interface NodeView {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** Present once nodes report them. */
  readonly labels?: readonly string[];
  readonly state?: string;
  readonly threads: number;
  /** Threads running a chunk now. */
  readonly busy: number;
  /** Chunks waiting on the node's threads behind a running one. */
  readonly prefetched: number;
  readonly chunks: number;
  readonly items: number;
  readonly itemsPerSecond: number;
  readonly started: number;
  readonly lastSeen: number;
}

export interface MapView extends MapProgress {
  /** The pool that runs it. */
  readonly host: string;
  readonly pid: number;
  readonly updated: number;
}

export interface LogLine {
  readonly time: number;
  readonly host: string;
  readonly pid: number;
  readonly level: string;
  readonly message: string;
}

export interface DashboardSnapshot {
  readonly time: number;
  readonly allowControl: boolean;
  /** Only signed messages are trusted (the cluster has a secret). */
  readonly signed: boolean;
  /** What it cannot reach (the broker, a job server) and jobs no worker can take: the page's banner. */
  readonly warnings: readonly DashboardWarning[];
  readonly jobServers: readonly JobServerStatus[];
  readonly nodes: readonly NodeView[];
  readonly maps: readonly MapView[];
  /** Items per second, one a second, oldest first, up to THROUGHPUT_SECONDS. */
  readonly throughput: readonly { readonly time: number; readonly itemsPerSecond: number }[];
  readonly logs: readonly LogLine[];
}

type Described = NodeStatsSnapshot & { readonly labels?: readonly string[]; readonly state?: string };

export class DashboardState {
  private readonly nodes = new Map<string, NodeView>();
  private readonly maps = new Map<string, MapView>();
  private readonly logs: LogLine[] = [];
  private readonly throughput: { time: number; itemsPerSecond: number }[] = [];
  private jobServers: readonly JobServerStatus[] = [];
  private warnings: readonly DashboardWarning[] = [];

  constructor(
    private readonly allowControl: boolean,
    private readonly signed: boolean,
  ) {}

  /** A message from the log channel (already checked, when the cluster has a secret). */
  heard(envelope: LogEnvelope, now = Date.now()): void {
    const message = envelope.message;
    if (message.type === "pong") this.pong(envelope.node, message.stats as Described, now);
    else if (message.type === "record") {
      this.logs.push({
        time: envelope.time,
        host: envelope.host,
        pid: envelope.pid,
        level: message.level,
        message: recordText(message),
      });
      if (this.logs.length > LOG_LINES) this.logs.splice(0, this.logs.length - LOG_LINES);
    } else if (message.type === "progress") {
      const { type: _type, ...progress } = message;
      this.maps.set(progress.mapId, { ...progress, host: envelope.host, pid: envelope.pid, updated: now });
    }
  }

  private pong(id: string, stats: Described, now: number): void {
    const before = this.nodes.get(id);
    let itemsPerSecond = before?.itemsPerSecond ?? 0;
    if (before !== undefined && now - before.lastSeen >= 500)
      itemsPerSecond = Math.max(0, (stats.itemsDone - before.items) / ((now - before.lastSeen) / 1000));
    else if (before !== undefined && now - before.lastSeen < 500) return; // a second reply to the same round: keep the first
    this.nodes.set(id, {
      id,
      host: stats.host,
      pid: stats.pid,
      ...(stats.labels !== undefined ? { labels: stats.labels } : {}),
      ...(stats.state !== undefined ? { state: stats.state } : {}),
      threads: stats.threads,
      busy: stats.busy,
      prefetched: stats.prefetched,
      chunks: stats.numRequests,
      items: stats.itemsDone,
      itemsPerSecond,
      started: stats.startTime,
      lastSeen: now,
    });
  }

  /** Whether the node is on the page (heard from within NODE_GONE_MS). */
  hasNode(id: string): boolean {
    return this.nodes.has(id);
  }

  setJobServers(servers: readonly JobServerStatus[], warnings: readonly DashboardWarning[]): void {
    this.jobServers = servers;
    this.warnings = warnings;
  }

  /** Once a second: forgets what is gone and records the cluster's throughput. */
  tick(now = Date.now()): void {
    for (const [id, node] of this.nodes) if (now - node.lastSeen > NODE_GONE_MS) this.nodes.delete(id);
    for (const [id, map] of this.maps) {
      const ended = map.state !== "running";
      if ((ended && now - map.updated > MAP_KEPT_MS) || (!ended && now - map.updated > 10 * MAP_KEPT_MS))
        this.maps.delete(id);
    }
    let itemsPerSecond = 0;
    for (const node of this.nodes.values()) itemsPerSecond += node.itemsPerSecond;
    this.throughput.push({ time: now, itemsPerSecond });
    if (this.throughput.length > THROUGHPUT_SECONDS)
      this.throughput.splice(0, this.throughput.length - THROUGHPUT_SECONDS);
  }

  snapshot(now = Date.now()): DashboardSnapshot {
    return {
      time: now,
      allowControl: this.allowControl,
      signed: this.signed,
      warnings: this.warnings,
      jobServers: this.jobServers,
      nodes: [...this.nodes.values()].sort((a, b) => a.host.localeCompare(b.host) || a.pid - b.pid),
      maps: [...this.maps.values()].sort((a, b) => b.started - a.started),
      throughput: this.throughput,
      logs: this.logs,
    };
  }
}
