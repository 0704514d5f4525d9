/**
 * A minimal Gearman load generator on raw sockets, no client or worker
 * library in the way: echo workers, a client that keeps N foreground jobs in
 * flight on one connection, and a pipelined background submitter.
 *
 *   rawLoad ──SUBMIT_JOB×N──▶ job server ──JOB_ASSIGN_UNIQ──▶ rawWorker
 *           ◀─JOB_CREATED, WORK_COMPLETE──      ◀──WORK_COMPLETE, GRAB_JOB_UNIQ──
 *
 * Every function settles: on completion, on a server ERROR or WORK_FAIL, on a
 * dropped connection, or when its AbortSignal fires (the case's budget).
 */
import net from "node:net";
import { encodePacket, encodeRaw, splitArgs, type Packet } from "../lib/gearman/packet.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";
import { PacketType } from "../lib/gearman/packet-types.js";
import { LatencyHistogram } from "./histogram.js";

/** Opens a socket and wires one FrameDecoder to it; the caller settles through `fail`/`onPacket`. */
function open(
  port: number,
  what: string,
  onPacket: (packet: Packet) => void,
  fail: (error: Error) => void,
  signal?: AbortSignal,
): net.Socket {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
  const decoder = new FrameDecoder({ expect: "RES", onPacket });
  socket.on("data", (chunk) => {
    try {
      decoder.push(chunk);
    } catch (error) {
      fail(new Error(`${what}: bad bytes from the server on port ${port}: ${(error as Error).message}`));
    }
  });
  socket.on("error", (error) => fail(new Error(`${what}: ${error.message}`)));
  socket.on("close", () => fail(new Error(`${what}: the server on port ${port} closed the connection`)));
  const onAbort = () => fail(new Error(`${what}: stopped (${String(signal!.reason ?? "aborted")})`));
  if (signal?.aborted) queueMicrotask(onAbort);
  signal?.addEventListener("abort", onAbort, { once: true });
  socket.once("close", () => signal?.removeEventListener("abort", onAbort));
  return socket;
}

export interface RawWorker {
  /** Jobs this worker completed. */
  readonly completed: number;
  close(): void;
}

/**
 * An echo worker doing one job at a time. Resolves once the server answered its first grab (so it is registered).
 * `onJob` runs after each job it echoed (e.g. to count background jobs drained by many workers).
 */
export function rawWorker(port: number, func: string, signal?: AbortSignal, onJob?: () => void): Promise<RawWorker> {
  const grab = encodePacket("REQ", "GRAB_JOB_UNIQ", {});
  const preSleep = encodePacket("REQ", "PRE_SLEEP", {});
  let completed = 0;
  let closed = false;
  return new Promise((resolve, reject) => {
    const worker: RawWorker = {
      get completed() {
        return completed;
      },
      close() {
        closed = true;
        socket.destroy();
      },
    };
    const fail = (error: Error) => {
      socket.destroy();
      if (!closed) reject(error); // a no-op once resolved
    };
    const socket = open(
      port,
      `raw worker for ${func}`,
      (packet) => {
        resolve(worker);
        if (packet.type === PacketType.JOB_ASSIGN_UNIQ) {
          const [handle, , , data] = splitArgs(packet.body, 4);
          completed++;
          socket.cork();
          socket.write(encodeRaw("REQ", PacketType.WORK_COMPLETE, [handle, data]));
          socket.write(grab);
          process.nextTick(() => socket.uncork());
          onJob?.();
        } else if (packet.type === PacketType.NO_JOB) socket.write(preSleep);
        else if (packet.type === PacketType.NOOP) socket.write(grab);
        else
          fail(
            new Error(`raw worker for ${func}: unexpected ${packet.name}: ${packet.body.toString("latin1", 0, 200)}`),
          );
      },
      fail,
      signal,
    );
    socket.write(Buffer.concat([encodePacket("REQ", "CAN_DO", { func }), grab]));
  });
}

export interface LoadOptions {
  readonly port: number;
  readonly func: string;
  /** Jobs kept outstanding on the one client connection. */
  readonly inFlight: number;
  /** Jobs submitted in all. */
  readonly jobs: number;
  /** Payload of every job; the worker must echo it back. Default 8 bytes. */
  readonly payload?: Buffer;
  readonly signal?: AbortSignal;
}

export interface LoadResult {
  readonly jobs: number;
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Round trips, SUBMIT_JOB written to WORK_COMPLETE read, in ms. */
  readonly latency: LatencyHistogram;
}

/** Submits `jobs` foreground jobs keeping `inFlight` outstanding; resolves when every one came back echoed. */
export function rawLoad(options: LoadOptions): Promise<LoadResult> {
  const { port, func, inFlight, jobs } = options;
  if (!(Number.isInteger(inFlight) && inFlight >= 1 && Number.isInteger(jobs) && jobs >= 1)) {
    return Promise.reject(
      new RangeError(`raw load: inFlight (${inFlight}) and jobs (${jobs}) must be positive integers`),
    );
  }
  const payload = options.payload ?? Buffer.alloc(8, 7);
  const submit = encodeRaw("REQ", PacketType.SUBMIT_JOB, [func, "", payload]);
  const what = `raw client (${func}, ${inFlight} in flight)`;
  const latency = new LatencyHistogram();
  const awaitingHandle: number[] = []; // submit times, in order: JOB_CREATED replies come back in submit order
  const started = new Map<string, number>();
  let submitted = 0;
  let done = 0;
  let settled = false;
  const begin = performance.now();
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(error);
    };
    const send = () => {
      awaitingHandle.push(performance.now());
      submitted++;
      socket.write(submit);
    };
    const socket = open(
      port,
      what,
      (packet) => {
        if (packet.type === PacketType.JOB_CREATED) {
          const at = awaitingHandle.shift();
          if (at === undefined) return fail(new Error(`${what}: JOB_CREATED with no submit waiting`));
          started.set(packet.body.toString("latin1"), at);
        } else if (packet.type === PacketType.WORK_COMPLETE) {
          const [handle, data] = splitArgs(packet.body, 2);
          const key = handle.toString("latin1");
          const at = started.get(key);
          if (at === undefined) return fail(new Error(`${what}: WORK_COMPLETE for unknown job ${key}`));
          if (!data.equals(payload))
            return fail(new Error(`${what}: job ${key} came back with ${data.length} bytes that are not its payload`));
          latency.record(performance.now() - at);
          started.delete(key);
          if (++done === jobs) {
            settled = true;
            const seconds = (performance.now() - begin) / 1000;
            socket.destroy();
            resolve({ jobs, seconds, jobsPerSecond: jobs / seconds, latency });
          } else if (submitted < jobs) send();
        } else if (
          packet.type === PacketType.WORK_FAIL ||
          packet.type === PacketType.WORK_EXCEPTION ||
          packet.type === PacketType.ERROR
        ) {
          fail(new Error(`${what}: ${packet.name} ${packet.body.toString("latin1", 0, 200)}`));
        }
      },
      fail,
      options.signal,
    );
    socket.cork();
    for (let i = 0; i < Math.min(inFlight, jobs); i++) send();
    socket.uncork();
  });
}

export interface BackgroundOptions {
  readonly port: number;
  readonly func: string;
  readonly jobs: number;
  /** Submits written but not yet answered by JOB_CREATED, at most. Default 2000. */
  readonly window?: number;
  readonly signal?: AbortSignal;
}

/** Submits `jobs` background jobs (distinct payloads), pipelined within a window; resolves with the seconds it took once all were created. */
export function rawBackground(options: BackgroundOptions): Promise<number> {
  const { port, func, jobs } = options;
  const window = options.window ?? 2000;
  const what = `raw background submitter (${func})`;
  let submitted = 0;
  let created = 0;
  let settled = false;
  const begin = performance.now();
  return new Promise((resolve, reject) => {
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(error);
    };
    const send = (n: number) => {
      const batch: Buffer[] = [];
      for (; batch.length < n && submitted < jobs; submitted++)
        batch.push(encodeRaw("REQ", PacketType.SUBMIT_JOB_BG, [func, "", `bg-${submitted}-payload`]));
      if (batch.length) socket.write(Buffer.concat(batch));
    };
    const socket = open(
      port,
      what,
      (packet) => {
        if (packet.type !== PacketType.JOB_CREATED)
          return fail(new Error(`${what}: unexpected ${packet.name}: ${packet.body.toString("latin1", 0, 200)}`));
        if (++created === jobs) {
          settled = true;
          socket.destroy();
          resolve((performance.now() - begin) / 1000);
        } else if (submitted - created <= window / 2) send(Math.ceil(window / 2));
      },
      fail,
      options.signal,
    );
    send(window);
  });
}

/**
 * `clients` raw clients on connections of their own, each keeping one job in flight, `jobs` in all between them:
 * independent callers, as a web tier's processes are. Their latencies are merged; jobs/s is over the wall time
 * from the first submit to the last reply.
 */
export async function rawClients(options: Omit<LoadOptions, "inFlight"> & { clients: number }): Promise<LoadResult> {
  const { clients, jobs } = options;
  const begin = performance.now();
  const results = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      rawLoad({ ...options, inFlight: 1, jobs: Math.floor(jobs / clients) + (i < jobs % clients ? 1 : 0) }),
    ),
  );
  const seconds = (performance.now() - begin) / 1000;
  const latency = new LatencyHistogram();
  for (const result of results) latency.merge(result.latency);
  return { jobs, seconds, jobsPerSecond: jobs / seconds, latency };
}
