/**
 * A minimal Gearman load generator on raw sockets (no client or worker
 * library in the way): echo workers and a client that keeps N jobs in flight.
 */
import net from "node:net";
import { encodePacket, encodeRaw, FrameDecoder, PacketType, splitArgs } from "../lib/gearman/index.js";

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
    socket.once("connect", () => resolve(socket)).once("error", reject);
  });
}

/** An echo worker: one job at a time. Resolves once registered; close with the returned function. */
export async function rawWorker(port: number, func: string): Promise<() => void> {
  const socket = await connect(port);
  const grab = encodePacket("REQ", "GRAB_JOB_UNIQ", {});
  const sleep = encodePacket("REQ", "PRE_SLEEP", {});
  const decoder = new FrameDecoder({
    expect: "RES",
    onPacket: (packet) => {
      if (packet.type === PacketType.JOB_ASSIGN_UNIQ) {
        const [handle, , , data] = splitArgs(packet.body, 4);
        socket.cork();
        socket.write(encodeRaw("REQ", PacketType.WORK_COMPLETE, [handle, data]));
        socket.write(grab);
        process.nextTick(() => socket.uncork());
      } else if (packet.type === PacketType.NO_JOB) socket.write(sleep);
      else if (packet.type === PacketType.NOOP) socket.write(grab);
    },
  });
  socket.on("data", (chunk) => decoder.push(chunk));
  socket.on("error", () => {});
  socket.write(Buffer.concat([encodePacket("REQ", "CAN_DO", { func }), grab]));
  return () => socket.destroy();
}

export interface LoadResult {
  readonly jobs: number;
  readonly seconds: number;
  readonly jobsPerSecond: number;
  /** Round trips, submit to WORK_COMPLETE, in ms. */
  readonly latencies: number[];
}

/** Submits `total` foreground jobs keeping `inFlight` outstanding; resolves when all completed. */
export async function rawLoad(port: number, func: string, inFlight: number, total: number, payload = Buffer.alloc(8, 7)): Promise<LoadResult> {
  const socket = await connect(port);
  const submit = encodeRaw("REQ", PacketType.SUBMIT_JOB, [func, "", payload]);
  const sentAt: number[] = [];
  const started = new Map<string, number>();
  const latencies: number[] = [];
  let submitted = 0;
  let done = 0;
  const begin = performance.now();
  return new Promise((resolve, reject) => {
    const send = () => {
      sentAt.push(performance.now());
      submitted++;
      socket.write(submit);
    };
    const decoder = new FrameDecoder({
      expect: "RES",
      onPacket: (packet) => {
        if (packet.type === PacketType.JOB_CREATED) started.set(packet.body.toString("latin1"), sentAt.shift()!);
        else if (packet.type === PacketType.WORK_COMPLETE) {
          const nul = packet.body.indexOf(0);
          const handle = packet.body.toString("latin1", 0, nul);
          latencies.push(performance.now() - started.get(handle)!);
          started.delete(handle);
          done++;
          if (done === total) {
            const seconds = (performance.now() - begin) / 1000;
            socket.destroy();
            resolve({ jobs: total, seconds, jobsPerSecond: total / seconds, latencies });
          } else if (submitted < total) send();
        } else if (packet.type === PacketType.ERROR) reject(new Error(`server error: ${packet.body}`));
      },
    });
    socket.on("data", (chunk) => decoder.push(chunk));
    socket.on("error", reject);
    socket.cork();
    for (let i = 0; i < Math.min(inFlight, total); i++) send();
    socket.uncork();
  });
}

/** Submits `total` background jobs (window of `window` unanswered); resolves when all were accepted. */
export async function rawBackground(port: number, func: string, total: number, window = 2000): Promise<number> {
  const socket = await connect(port);
  let submitted = 0;
  let created = 0;
  const begin = performance.now();
  return new Promise((resolve, reject) => {
    const send = (n: number) => {
      const batch: Buffer[] = [];
      for (let i = 0; i < n && submitted < total; i++, submitted++) batch.push(encodeRaw("REQ", PacketType.SUBMIT_JOB_BG, [func, "", `bg-${submitted}-payload`]));
      if (batch.length) socket.write(Buffer.concat(batch));
    };
    const decoder = new FrameDecoder({
      expect: "RES",
      onPacket: (packet) => {
        if (packet.type !== PacketType.JOB_CREATED) return reject(new Error(`unexpected ${packet.name}: ${packet.body}`));
        created++;
        if (created === total) {
          socket.destroy();
          resolve((performance.now() - begin) / 1000);
        } else if (submitted - created < window / 2) send(window / 2);
      },
    });
    socket.on("data", (chunk) => decoder.push(chunk));
    socket.on("error", reject);
    send(window);
  });
}
