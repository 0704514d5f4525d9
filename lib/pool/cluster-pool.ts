/**
 * The cluster pool: a parallel map whose chunks run on worker nodes. Each
 * call's run (options, shipping, window, progress, output) is map-stream.ts.
 *
 *   items ──chunksOf──► chunks ──runWindow (≤ maxInFlight)──► runChunkJob ──GearmanClient──► job server ──► worker nodes
 *                                        ▲                          │
 *   results (in order, or as finished) ◄─┴──── decodeChunkResponse ◄┘
 *
 *   setMemory / clearMemory / cancel ──ClusterControl (lib/control: command channel)──► worker nodes ──acks (log channel)──┘
 *   each map's progress ──control.progress──► this process's listeners (a dashboard), and the broker
 *   the functions' console output ◄──WORK_DATA on each chunk's job── worker nodes: to this process's stdout / stderr (worker-output.ts)
 *
 * A map begins once a job server is connected: with none, it waits until
 * each was tried once more, then rejects with NO_JOB_SERVER naming every
 * server and why (a refused connection in milliseconds, a silent host
 * within the connect timeout).
 *
 * A map whose chunks no node takes for waitForNodesMs (wait_for_nodes)
 * asks the job servers whether any node registered its function; none:
 * the map ends with NO_NODE (node-watch.ts).
 *
 * A map ends on the first failure (RemoteError from the function, its stack
 * pointed at the caller's code for a function shipped as source; a chunk
 * whose worker died past `retries`, a refused signature, an abort): the other
 * chunks are cancelled and the workers told to stop them. Under
 * `errors: "return"` or `retryOn` chunks are settled (every item runs, each
 * one's error in its place: settled-chunk.ts), and with "return" an item's
 * error is its result. starmap, map over several iterables (zip.ts) and
 * submit (submit-batcher.ts, a settled map per batch) call fn(...args).
 */
import { randomBytes } from "node:crypto";
import type { GearmanClient } from "../gearman/client.js";
import { DEFAULT_MAX_PACKET_SIZE } from "../gearman/packet.js";
import { type FunctionRef, type MapFunction } from "../wire/function-ref.js";
import { wholeNumber } from "../argument-error.js";
import { checkEntries } from "./memory-entries.js";
import { asArrays, joinChunks, type ItemSource } from "./chunks.js";
import { streamMap, type MapHost } from "./map-stream.js";
import { type IterOptions, type MapOptions, type PoolDefaults } from "./map-options.js";
import { eachResult, type StreamCall, type StreamedChunk } from "./stream-call.js";
import { splitSources, zipSources } from "./zip.js";
import { SubmitBatcher, type SubmitOptions } from "./submit-batcher.js";
import type { ErrorsMode, Outcome, SpreadFunction, Sources, Yielded } from "./call-types.js";
import { closedWhileRunning, poolClosed } from "./errors.js";
import { logLinks } from "../gearman/link-log.js";
import type { ClusterControl } from "../control/cluster-control.js";
import { checkSelector, type NodeSelector } from "../control/node-selector.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";
import { PayloadFiles } from "./payload-files.js";
import { MessageGuard } from "../security/message-guard.js";
import type { ClusterKey } from "../security/cluster-key.js";

export interface ClusterPoolParts {
  readonly client: GearmanClient;
  readonly control: ClusterControl;
  readonly defaults: PoolDefaults;
  /** Send each source function once through shared memory; chunks then carry only its key. */
  readonly cacheFunctions: boolean;
  /** Releases whatever the pool owns besides client and control (a local cluster's server and workers). */
  readonly release?: () => Promise<void>;
  /** The cluster key: chunks are signed with it and responses checked. None: nothing is signed. */
  readonly key?: ClusterKey;
  /** Oldest signed response accepted, in ms. Default 300000. */
  readonly signatureMaxAgeMs?: number;
  /** A dashboard open on this pool's channels (MakePool's `dashboard` option): shown as dashboardUrl, closed first by close(). */
  readonly dashboard?: PoolDashboard;
  /** The largest packet data the job servers carry (max_packet_size): a chunk over it fails before it is sent. Default 64 MiB. */
  readonly maxPacketSize?: number;
  /**
   * Receives one line per event a person running the pool wants to know of: a job server it cannot
   * reach, loses or reaches again, and every retry with its cause. Default: none.
   */
  readonly log?: (line: string) => void;
  /**
   * A directory of this user's that every node of the cluster sees at the same path (a local cluster's):
   * large chunks and results go through files there instead of through the job server (payload-files.ts).
   */
  readonly payloadDirectory?: string;
}

/** What the pool needs of a dashboard it carries: where it is, and closing it. */
export interface PoolDashboard {
  readonly url: string;
  close(): Promise<void>;
}

export class ClusterPool implements AsyncDisposable {
  private readonly client: GearmanClient;
  private readonly control: ClusterControl;
  private readonly defaults: PoolDefaults;
  private readonly cacheFunctions: boolean;
  private readonly release: (() => Promise<void>) | undefined;
  private readonly key: ClusterKey | undefined;
  private readonly guard: MessageGuard | undefined;
  private readonly dashboard: PoolDashboard | undefined;
  private readonly maxPacketSize: number;
  private readonly log: ((line: string) => void) | undefined;
  private readonly stopLinkLog: (() => void) | undefined;
  /** Where this pool's dashboard is, when MakePool opened one (`dashboard` option). */
  readonly dashboardUrl: string | undefined;
  private readonly cachedFunctions = new Set<string>();
  private closing: Promise<void> | undefined;
  /** How to stop each map, imap and batch of calls that runs: close() stops them all. */
  private readonly running = new Set<() => void>();
  private mapCounter = 0;
  private readonly poolId = randomBytes(6).toString("hex");
  private readonly batcher = new SubmitBatcher((fn, items, spread, options) =>
    this.stream(fn, items, { ...options, errors: "return" }, { owner: "submit", ordered: false, spread }),
  );

  private readonly host: MapHost;

  constructor(parts: ClusterPoolParts) {
    this.client = parts.client;
    this.control = parts.control;
    this.defaults = parts.defaults;
    this.cacheFunctions = parts.cacheFunctions;
    this.release = parts.release;
    this.key = parts.key;
    this.guard = parts.key && new MessageGuard(parts.key, { maxAgeMs: parts.signatureMaxAgeMs });
    this.dashboard = parts.dashboard;
    this.dashboardUrl = parts.dashboard?.url;
    this.maxPacketSize = parts.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    this.log = parts.log;
    this.stopLinkLog = parts.log && logLinks(parts.client, parts.log, { firstConnect: false });
    this.host = {
      client: this.client,
      control: this.control,
      defaults: this.defaults,
      key: this.key,
      guard: this.guard,
      log: this.log,
      maxPacketSize: this.maxPacketSize,
      payloadFiles: parts.payloadDirectory === undefined ? undefined : new PayloadFiles(parts.payloadDirectory),
      closed: () => this.closing !== undefined,
      enter: (stop) => {
        this.running.add(stop);
        return () => this.running.delete(stop);
      },
      nextMapId: () => `${this.poolId}-${++this.mapCounter}`,
      cacheFunction: this.cacheFunctions ? (ref) => this.cacheFunction(ref) : undefined,
    };
  }

  /**
   * Applies `fn` to every item on the cluster; resolves to the results in input order. Given several
   * iterables, fn gets one item of each (the shortest ends the map), as Python's map(fn, xs, ys).
   */
  map<T, R, E extends ErrorsMode = "raise">(
    fn: MapFunction<T, R>,
    items: ItemSource<T>,
    options?: MapOptions & { errors?: E },
  ): Promise<Outcome<R, E>[]>;
  map<A extends [unknown, unknown, ...unknown[]], R>(fn: SpreadFunction<A, R>, ...sources: Sources<A>): Promise<R[]>;
  map<A extends [unknown, unknown, ...unknown[]], R, E extends ErrorsMode = "raise">(
    fn: SpreadFunction<A, R>,
    ...args: [...Sources<A>, MapOptions & { errors?: E }]
  ): Promise<Outcome<R, E>[]>;
  async map(fn: unknown, ...args: unknown[]): Promise<unknown[]> {
    // Whole chunks, not items, cross the async boundary: a million results are a hundred awaits, not a million.
    // Typed results are unpacked as they come, while later chunks are still out, not all at the end.
    const parts: unknown[][] = [];
    for await (const chunk of this.streamOf("map", fn, args, true)) parts.push(...asArrays(chunk.results));
    return joinChunks(parts);
  }

  /** Streams results in input order, pulling input lazily with a bounded number of chunks in flight (several iterables: as map). */
  imap<T, R, E extends ErrorsMode = "raise", I extends boolean = false>(
    fn: MapFunction<T, R>,
    items: ItemSource<T>,
    options?: IterOptions & { errors?: E; indexed?: I },
  ): AsyncGenerator<Yielded<R, E, I>>;
  imap<A extends [unknown, unknown, ...unknown[]], R>(
    fn: SpreadFunction<A, R>,
    ...sources: Sources<A>
  ): AsyncGenerator<R>;
  imap<A extends [unknown, unknown, ...unknown[]], R, E extends ErrorsMode = "raise", I extends boolean = false>(
    fn: SpreadFunction<A, R>,
    ...args: [...Sources<A>, IterOptions & { errors?: E; indexed?: I }]
  ): AsyncGenerator<Yielded<R, E, I>>;
  imap(fn: unknown, ...args: unknown[]): AsyncGenerator<unknown> {
    return eachResult(this.streamOf("imap", fn, args, true, true));
  }

  /**
   * Streams results as chunks finish (items within a chunk stay in order); with `indexed: true`,
   * as [index, result] pairs, index being the item's position in the input.
   */
  imapUnordered<T, R, E extends ErrorsMode = "raise", I extends boolean = false>(
    fn: MapFunction<T, R>,
    items: ItemSource<T>,
    options?: IterOptions & { errors?: E; indexed?: I },
  ): AsyncGenerator<Yielded<R, E, I>>;
  imapUnordered<A extends [unknown, unknown, ...unknown[]], R>(
    fn: SpreadFunction<A, R>,
    ...sources: Sources<A>
  ): AsyncGenerator<R>;
  imapUnordered<
    A extends [unknown, unknown, ...unknown[]],
    R,
    E extends ErrorsMode = "raise",
    I extends boolean = false,
  >(
    fn: SpreadFunction<A, R>,
    ...args: [...Sources<A>, IterOptions & { errors?: E; indexed?: I }]
  ): AsyncGenerator<Yielded<R, E, I>>;
  imapUnordered(fn: unknown, ...args: unknown[]): AsyncGenerator<unknown> {
    return eachResult(this.streamOf("imapUnordered", fn, args, false, true));
  }

  /** Calls fn(...args) for every argument list (a tuple) of `items`, as Python's starmap; resolves to the results in input order. */
  async starmap<A extends readonly unknown[], R, E extends ErrorsMode = "raise">(
    fn: SpreadFunction<A, R>,
    items: ItemSource<A>,
    options?: MapOptions & { errors?: E },
  ): Promise<Outcome<R, E>[]> {
    const parts: unknown[][] = [];
    for await (const chunk of this.stream(fn, items, options, { owner: "starmap", ordered: true, spread: true }))
      parts.push(...asArrays(chunk.results));
    return joinChunks(parts) as Outcome<R, E>[];
  }

  /** starmap's lazy form: streams fn(...args) for every argument list of `items`, in input order, as imap does. */
  istarmap<A extends readonly unknown[], R, E extends ErrorsMode = "raise", I extends boolean = false>(
    fn: SpreadFunction<A, R>,
    items: ItemSource<A>,
    options?: IterOptions & { errors?: E; indexed?: I },
  ): AsyncGenerator<Yielded<R, E, I>> {
    const call = { owner: "istarmap", ordered: true, spread: true, streams: true };
    return eachResult(this.stream(fn, items, options, call)) as AsyncGenerator<Yielded<R, E, I>>;
  }

  /**
   * Runs fn(...args) on the cluster; resolves to its result, or rejects with its RemoteError (or a
   * PoolError if its chunk was given up). Calls made in one turn of the event loop with the same
   * function travel together, in chunks, as one map of them would (docs/functions.md "Futures").
   */
  submit<A extends unknown[], R>(fn: SpreadFunction<A, R>, ...args: A): Promise<R> {
    return this.apply(fn, args);
  }

  /**
   * submit with the arguments as a list, and options: `signal` (aborting it rejects the calls made
   * with it that have not finished, and stops their chunks), `label`, `timeout`, `retries`, `retryOn`,
   * `backoff`, `chunksize`, `output` (as a map's). Calls batch with calls of the same function and the same options.
   */
  apply<A extends unknown[], R>(fn: SpreadFunction<A, R>, args: readonly [...A], options?: SubmitOptions): Promise<R> {
    if (this.closing) return Promise.reject(poolClosed());
    return this.batcher.submit(fn, args, options) as Promise<R>;
  }

  /**
   * Merges entries into every worker node's memory; resolves once every live worker acknowledged.
   * Like every command to the nodes, rejects within about 2 s with PoolError CHANNEL_UNREACHABLE
   * naming the channel endpoints when they cannot be reached (a broker that is down).
   */
  setMemory(entries: Record<string, unknown>): Promise<void> {
    if (this.closing) return Promise.reject(poolClosed());
    try {
      checkEntries(entries);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.control.memory.set(entries);
  }

  /** Empties every worker node's memory; resolves once every live worker acknowledged. */
  clearMemory(): Promise<void> {
    if (this.closing) return Promise.reject(poolClosed());
    this.cachedFunctions.clear();
    return this.control.memory.clear();
  }

  /**
   * Asks every worker node for its statistics; waits up to `waitMs` (less once every known node answered).
   * Rejects with CHANNEL_UNREACHABLE when the channels cannot be reached, rather than resolving empty.
   */
  async ping(waitMs = 2000): Promise<NodeStatsSnapshot[]> {
    if (this.closing) throw poolClosed();
    return this.control.commands.ping(wholeNumber("ping waitMs", waitMs, 0));
  }

  /**
   * Drains the worker nodes `selector` picks (a pid, "host:pid", a host name, a node id, "label:NAME", or
   * `{ all: true }`): each unregisters its functions, finishes its running chunks, hands back the ones it
   * holds unstarted, and stays up. Resolves with their node ids once each acknowledged; a selector that picks
   * no live node rejects with PoolError NO_MATCHING_NODE listing the live ones (docs/labels.md).
   */
  async drain(selector: NodeSelector, waitMs = 10_000): Promise<string[]> {
    if (this.closing) throw poolClosed();
    return this.control.commands.setNodeState(
      "drain",
      checkSelector("drain selector", selector),
      wholeNumber("drain waitMs", waitMs, 1),
    );
  }

  /** Registers the functions of the nodes `selector` picks again (as drain picks them); resolves with their ids once each acknowledged. */
  async online(selector: NodeSelector, waitMs = 10_000): Promise<string[]> {
    if (this.closing) throw poolClosed();
    return this.control.commands.setNodeState(
      "online",
      checkSelector("online selector", selector),
      wholeNumber("online waitMs", waitMs, 1),
    );
  }

  /** Tells every worker node to restart (their supervisors start them again); resolves with the nodes that acknowledged. */
  async restartWorkers(waitMs = 10_000): Promise<string[]> {
    if (this.closing) throw poolClosed();
    return this.control.commands.restartWorkers(wholeNumber("restartWorkers waitMs", waitMs, 0));
  }

  /** Tells every worker node to quit; resolves with the nodes that acknowledged. */
  async killWorkers(waitMs = 10_000): Promise<string[]> {
    if (this.closing) throw poolClosed();
    return this.control.commands.quitWorkers(wholeNumber("killWorkers waitMs", waitMs, 0));
  }

  /** map's, imap's and imapUnordered's arguments (sources, then options) as a stream; several sources are zipped. */
  private streamOf(
    owner: string,
    fn: unknown,
    args: unknown[],
    ordered: boolean,
    streams = false,
  ): AsyncGenerator<StreamedChunk> {
    const { sources, options } = splitSources(owner, args);
    const spread = sources.length > 1;
    return this.stream(fn, spread ? zipSources(sources) : sources[0], options as IterOptions, {
      owner,
      ordered,
      spread,
      streams,
    });
  }

  /** The chunks' results, in order or as they finish (map-stream.ts). */
  private stream(fn: unknown, items: unknown, options: IterOptions | undefined, call: StreamCall) {
    return streamMap(this.host, fn, items, options, call);
  }

  private async cacheFunction(ref: Extract<FunctionRef, { kind: "source" }>): Promise<FunctionRef> {
    const key = `glimpse:fn:${ref.hash}`;
    if (!this.cachedFunctions.has(key)) {
      await this.control.memory.set({ [key]: ref });
      this.cachedFunctions.add(key);
    }
    return { kind: "cached", key };
  }

  /** The pool's command and log channels, for what watches this pool's cluster from its process (a dashboard). */
  get channels(): ClusterControl {
    return this.control;
  }

  /**
   * Releases every socket, timer and child process the pool owns. Safe to call twice. From its start,
   * every other method rejects with PoolError CLOSED (imap and imapUnordered at their first next()),
   * and every map, imap, starmap and submitted call still running rejects with CLOSED "the pool was
   * closed while the map ran" ("the call" for submit and apply), at whatever stage it is. A setMemory,
   * ping or drain already waiting is not rejected: it ends with what it heard when the channels close.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      // What runs stops as an abort stops it, with CLOSED for its error: its chunks are cancelled on the
      // nodes (so a local cluster's nodes stop at once, not after their grace period), and it settles
      // without waiting for its caller's input.
      this.batcher.close(() => closedWhileRunning("the call"));
      for (const stop of [...this.running]) stop();
      this.stopLinkLog?.();
      // The dashboard first: it uses the channels and job server connections closed next.
      await Promise.allSettled([this.dashboard?.close()]);
      await Promise.allSettled([this.client.close(), this.control.close()]);
      await this.release?.();
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
