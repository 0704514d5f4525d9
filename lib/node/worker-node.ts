/**
 * A worker node: takes `glimpse_map` chunks from the job servers and runs them
 * on a local piscina thread pool; obeys the command channel; reports on the
 * log channel.
 *
 *   job servers ──JOB_ASSIGN (≤ threads × (1 + prefetch) at once)──► GearmanWorker ──► handleChunk ──► ChunkThreads (chunk-runner)
 *      ▲ ▲ ▲                   frame read, signature checked, head read │ memory version awaited │ body decoded,
 *      │ │ └── WORK_STATUS 0/N "taken" ◄──────────────────────────────┤ (if the node lacks it)  │ run
 *      │ └──── WORK_EXCEPTION "glimpse-refused ..." ◄── refused ◄──────┘                          │
 *      ├────── WORK_DATA (empty) every 2 s while it holds a chunk: a heartbeat ◄────────────────────┤
 *      ├────── WORK_DATA: each console line of the chunk's function (chunk-output.ts) ◄──────────────┤
 *      └────── WORK_COMPLETE (response bytes, signed with the request's nonce) ◄──────────────────┘
 *
 * What the node answers besides results (taken, refused, handed back) is
 * written by lib/wire/protocol.ts; the request is read once, in stages
 * (lib/wire/chunk-codec.ts), and the thread decodes only its body.
 *
 *   command channel ──► quit / restart / ping / set-memory / clear-memory / cancel / drain / online
 *   log channel ◄── log records, acknowledgements, ping replies, memory requests, the functions' console
 *                   output again, for followers (its threads forward it: output-forwarder.ts)
 *
 * It registers glimpse_map and glimpse_map:LABEL per label (only the labelled
 * ones when exclusive) while serving; drain unregisters them all and hands
 * back the chunks it holds but has not started (NodeService, docs/labels.md).
 */
import { EventEmitter } from "node:events";
import { GearmanWorker } from "../gearman/worker.js";
import { logLinks } from "../gearman/link-log.js";
import { toBuffer } from "../bytes.js";
import type { WorkerJob } from "../gearman/worker-job.js";
import type { StreamOpener } from "../gearman/transport.js";
import { readChunkRequest, readFrame, type ChunkRequestHead } from "../wire/chunk-codec.js";
import { decodeChunkResponse, peekResponseOk } from "../wire/chunk-response.js";
import { signChunkInPlace, verifyChunk } from "../wire/chunk-signing.js";
import { answerHandBack, answerRefusal, answerTaken, answerTooLarge, CHUNK_HEARTBEAT_MS } from "../wire/protocol.js";
import { largestItems, packetData, tooLargeDetail } from "../wire/packet-limit.js";
import { ClusterKey, type SignatureFacts } from "../security/cluster-key.js";
import { MessageGuard } from "../security/message-guard.js";
import { SignatureError } from "../security/errors.js";
import { NodeStats } from "./node-stats.js";
import { NodeMemory } from "./node-memory.js";
import { NodeChannels } from "./node-channels.js";
import { fillNodeOptions, NODE_LINKS, type NodeOptions, type NodeOptionsInput } from "./node-options.js";
import { ChunkThreads } from "./chunk-threads.js";
import { cancelled, NodeError } from "./errors.js";
import { NodeService } from "./node-service.js";
import { OutputForwarder } from "./output-forwarder.js";
import { ChunkOutputs } from "./chunk-output.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";

/** Resolves after the writes queued so far were handed to the sockets (they flush on the next tick). */
const written = () => new Promise<void>((resolve) => process.nextTick(resolve));

/** How a chunk the node was handed ended (refused ones never run). */
export type ChunkOutcome = "done" | "failed" | "refused" | "cancelled" | "handed_back";

/** The "chunk" event, emitted (only while someone listens) once per chunk handed to the node. */
export interface ChunkEvent {
  readonly outcome: ChunkOutcome;
  readonly items: number;
  /** Time from its hand-over to a thread until its end (0 for a refused one). */
  readonly seconds: number;
}

/** How a node in the process of its job server reaches it without the network (not options: those travel as JSON to a node's process). */
export interface WorkerNodeLinks {
  /** Opens the stream to a job server (GearmanWorker's `open`), e.g. `() => server.connectInProcess()`. */
  readonly open?: StreamOpener;
}

/** Why a node stopped: the supervisor restarts it unless the reason is "quit". */
export type StopReason = "quit" | "restart" | "signal";

export class WorkerNode extends EventEmitter {
  readonly id: string;
  private readonly options: NodeOptions;
  private readonly worker: GearmanWorker;
  private readonly threads: ChunkThreads;
  private readonly service: NodeService;
  private readonly stats: NodeStats;
  private readonly memory: NodeMemory;
  private readonly channels: NodeChannels;
  /** The threads' console output, to the log channel and (chunkOutputs) to each chunk's client. */
  private readonly output: OutputForwarder;
  private readonly chunkOutputs: ChunkOutputs;
  private readonly key: ClusterKey | undefined;
  /** Checks chunk signatures and admits each signed chunk once (undefined: no secret, chunks must be unsigned). */
  private readonly guard: MessageGuard | undefined;
  /** Chunks refused (unsigned, forged, stale, replayed) since start. */
  refusedChunks = 0;
  /** Running chunks by map id, so a cancel command can stop them. */
  private readonly running = new Map<string, Set<AbortController>>();
  private stopping: Promise<void> | undefined;
  private readonly stopLinkLog: () => void;

  /** Throws ArgumentError naming a bad or unknown option. */
  constructor(input: NodeOptionsInput, links: WorkerNodeLinks = {}) {
    super();
    const options = fillNodeOptions(input);
    const { open } = NODE_LINKS.fill(links);
    this.options = options;
    this.id = options.nodeId;
    this.stats = new NodeStats(this.id, options.threads);
    this.key = options.secret === undefined ? undefined : new ClusterKey(options.secret);
    this.guard = this.key && new MessageGuard(this.key, { maxAgeMs: options.signatureMaxAgeMs });
    this.chunkOutputs = new ChunkOutputs(this.key);
    this.output = new OutputForwarder(
      this.id,
      (line) => {
        this.chunkOutputs.line(line);
        this.channels.output(line);
      },
      (message) => this.channels.log("warning", message),
    );
    this.threads = new ChunkThreads({ ...options, output: this.output.link });
    this.channels = new NodeChannels(options, this.id, this.key);
    this.memory = new NodeMemory(this.channels, options.memoryWaitMs, this.id);
    this.worker = new GearmanWorker({
      servers: options.jobServers,
      clientId: this.id,
      concurrency: this.threads.capacity,
      tls: options.tls,
      open,
      maxPacketSize: options.maxPacketSize,
      // So the pool can tell a chunk whose node went silent (lib/wire/protocol.ts).
      heartbeatMs: CHUNK_HEARTBEAT_MS,
    });
    this.service = new NodeService(
      this.worker,
      { ...options, nodeId: this.id, capacity: this.threads.capacity },
      (job) => this.handleChunk(job),
    );
    // A job assigned by a grab sent before its function was unregistered: it goes back unrun (before GearmanWorker answers it).
    this.worker.on("job", (job: WorkerJob) => {
      if (!this.service.registers(job.func)) this.handBack(job);
    });
    this.service.on("state", (state: string) => {
      this.channels.log("info", `worker node ${this.id} is ${state}`);
      this.emit("state", state);
    });
    this.service.on("drained", () => {
      if (this.options.exitWhenDone) void this.stop("quit");
    });
    if (options.drained) this.service.drain();
    else this.service.serve();
    this.worker.on("error", (error: Error) => this.channels.log("error", `gearman: ${error.message}`));
    // Each job server it cannot reach, loses or reaches again: one line per change, on stderr and the log channel.
    this.stopLinkLog = logLinks(this.worker, (line) => {
      process.stderr.write(`worker node ${this.id}: ${line}\n`);
      this.channels.log(line.startsWith("connected") || line.startsWith("reconnected") ? "info" : "warning", line);
    });
  }

  async start(): Promise<void> {
    await this.channels.open({
      quit: () => void this.stop("quit"),
      restart: () => void this.stop("restart"),
      ping: () => this.snapshot(),
      setMemory: (entries, version) => this.memory.replace(entries, version),
      clearMemory: (version) => this.memory.clear(version),
      cancel: (ids) => this.cancel(ids),
      drain: () => this.service.drain(),
      online: () => {
        if (!this.stopping) this.service.serve();
      },
      memoryVersion: () => this.memory.version,
      state: () => this.service.state,
    });
    this.memory.attach();
    // "Started" means registered with a job server (so admin `workers` lists this node), or still
    // trying after 5 s: a node whose servers are down starts anyway and keeps reconnecting.
    const registered = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.worker.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.worker.start();
    await registered;
    this.emit("started");
    this.channels.log("info", startedLine(this.id, this.options));
  }

  /** What a ping answers. */
  snapshot(): NodeStatsSnapshot {
    return {
      ...this.stats.snapshot(this.memory.version, this.threads.counts()),
      labels: [...this.options.labels],
      exclusive: this.options.exclusive,
      state: this.service.state,
    };
  }

  get state(): string {
    return this.service.state;
  }

  /** Answers a chunk this node will not run, so the pool submits it again without spending a retry. */
  private handBack(job: WorkerJob): void {
    this.stats.handedBack++;
    answerHandBack(job, `worker node ${this.id} (${this.service.state}) handed back job ${job.handle} unrun`);
  }

  private async handleChunk(job: WorkerJob): Promise<Buffer | undefined> {
    // Brought by a grab already on its way when the node began to drain.
    if (this.service.state !== "serving") return void this.handBack(job);
    // Read once, in stages (chunk-codec.ts): the frame, its signature, then header and meta; the body on the thread.
    const frame = readFrame(job.data, "chunk request");
    let signature: SignatureFacts | undefined;
    try {
      signature = verifyChunk(frame, this.guard, `chunk job ${job.handle} from job server ${job.server}`);
    } catch (error) {
      if (!(error instanceof SignatureError)) throw error;
      this.refuse(job, error);
      return undefined;
    }
    const header = readChunkRequest(frame);
    // The pool counts takes: the notice is written before the chunk can run, so a chunk that kills this process
    // at once is still counted.
    answerTaken(job, header.count);
    // Counted before the first await: maxChunks lowers the concurrency before the worker grabs again.
    const lease = this.service.take();
    try {
      return await this.runChunk(job, header, signature, lease.handBack);
    } catch (error) {
      if (!(error instanceof NodeError && error.code === "HANDED_BACK" && lease.handBack.aborted)) throw error;
      this.handBack(job);
      return undefined;
    } finally {
      lease.release();
    }
  }

  private async runChunk(
    job: WorkerJob,
    header: ChunkRequestHead,
    signature: SignatureFacts | undefined,
    handBack: AbortSignal,
  ): Promise<Buffer | undefined> {
    await written();
    // Awaited only when missing: a chunk that can run goes to its thread right after its notice.
    if (this.memory.version < header.memoryVersion) {
      await this.memory.ready(header.memoryVersion, AbortSignal.any([job.signal, handBack]));
      if (handBack.aborted && !job.signal.aborted) throw handBack.reason;
    }
    const controller = new AbortController();
    const onLost = () => controller.abort(job.signal.reason);
    job.signal.addEventListener("abort", onLost, { once: true });
    // Cancel commands name a map (all its chunks) or one attempt of a chunk (its job's unique id).
    const keys = job.unique === "" ? [header.mapId] : [header.mapId, job.unique];
    for (const key of keys) {
      let group = this.running.get(key);
      if (!group) this.running.set(key, (group = new Set()));
      group.add(controller);
    }
    // Its console lines go to its client on its own job, ahead of its result (chunk-output.ts).
    const output = header.output === false ? undefined : this.chunkOutputs.sink(job, signature?.nonceBytes);
    const started = performance.now();
    let outcome: ChunkOutcome = "failed";
    let ran = true;
    try {
      const bytes = await this.threads
        .run(job.data, controller.signal, handBack, header, output)
        .catch((error: unknown) => {
          ran = !(error instanceof NodeError && error.code === "HANDED_BACK");
          throw error;
        });
      if (output) await this.chunkOutputs.settled(output);
      const response = toBuffer(bytes, "chunk response");
      if (this.listenerCount("chunk") > 0 && peekResponseOk(response)) outcome = "done";
      const signed = this.key ? signChunkInPlace(response, this.key, signature?.nonceBytes) : response;
      const limit = this.options.maxPacketSize;
      const size = packetData(signed.length, job.handle);
      if (size <= limit) return signed;
      // It would not reach the pool (a job server or the pool would drop the connection, and it would run
      // again for nothing): say so once, naming the largest results.
      outcome = "failed";
      answerTooLarge(job, resultsTooLarge(response, header.start, size, limit));
      return undefined;
    } finally {
      const elapsedMs = performance.now() - started;
      if (ran) this.stats.chunkFinished(header.count, elapsedMs);
      if (this.listenerCount("chunk") > 0) {
        if (!ran) outcome = "handed_back";
        else if (controller.signal.aborted) outcome = "cancelled";
        this.emit("chunk", { outcome, items: ran ? header.count : 0, seconds: elapsedMs / 1000 } satisfies ChunkEvent);
      }
      if (output) this.chunkOutputs.close(output);
      job.signal.removeEventListener("abort", onLost);
      for (const key of keys) {
        const group = this.running.get(key)!;
        group.delete(controller);
        if (group.size === 0) this.running.delete(key);
      }
    }
  }

  /**
   * Never runs a refused chunk: answers WORK_EXCEPTION "glimpse-refused REASON: ..." (so its
   * client can tell a key mismatch from a crash) and logs it, here and on the log channel.
   */
  private refuse(job: WorkerJob, error: SignatureError): void {
    this.refusedChunks++;
    const unique = job.unique === "" ? "" : ` (unique ${job.unique})`;
    this.channels.refusals.write(`${error.message}${unique}; not run`);
    answerRefusal(job, {
      reason: error.reason,
      detail: `worker node ${this.id} refused ${error.message.replace(/ refused: /, ": ")}`,
    });
    this.emit("refused", error);
    if (this.listenerCount("chunk") > 0)
      this.emit("chunk", { outcome: "refused", items: 0, seconds: 0 } satisfies ChunkEvent);
  }

  /** Stops the running chunks of these maps, or these single chunk attempts (by job unique id). */
  private cancel(ids: readonly string[]): void {
    for (const id of ids) {
      for (const controller of this.running.get(id) ?? []) controller.abort(cancelled(id));
    }
  }

  /** Takes no new chunks, lets running ones finish within the grace period, then releases everything. */
  stop(reason: StopReason, graceMs = this.options.graceMs): Promise<void> {
    this.stopping ??= (async () => {
      this.channels.log("info", `worker node ${this.id} stopping (${reason})`);
      // A node that is stopping closes its connections itself: that is no loss to report.
      this.stopLinkLog();
      await this.worker.stop({ deadlineMs: graceMs });
      await this.threads.destroy();
      this.output.close();
      this.memory.close();
      await this.channels.close();
      this.emit("stopped", reason);
    })();
    return this.stopping;
  }
}

/** Why a response of `size` bytes cannot be sent, naming the largest results (its items counted from `start`). */
function resultsTooLarge(response: Buffer, start: number, size: number, limit: number): string {
  let largest: ReturnType<typeof largestItems> = [];
  try {
    const decoded = decodeChunkResponse(response);
    if (decoded.ok) largest = largestItems(decoded.results, start);
  } catch {
    // Named without its items, then.
  }
  return tooLargeDetail("results", size, limit, largest);
}

/** The log line a node writes once it serves: `worker node ID started with 1 thread (prefetch 1), job servers ...`. */
export function startedLine(
  id: string,
  options: Pick<NodeOptions, "threads" | "prefetch" | "labels" | "exclusive" | "jobServers">,
): string {
  const threads = `${options.threads} thread${options.threads === 1 ? "" : "s"}`;
  const labels =
    options.labels.length === 0 ? "" : `, labels ${options.labels.join(",")}${options.exclusive ? " (exclusive)" : ""}`;
  return `worker node ${id} started with ${threads} (prefetch ${options.prefetch})${labels}, job servers ${options.jobServers.join(", ")}`;
}
