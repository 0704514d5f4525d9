/**
 * The thread side of the module executor: imports the pool's module once per
 * thread and calls its export with the job. The handler gets
 *
 *   { workload: Buffer, functionName, handle, unique, sendStatus(numerator, denominator), sendData(bytes) }
 *
 * and returns a string, bytes (Buffer / Uint8Array) or nothing; a throw ends
 * the job with its message.
 */
import { BroadcastChannel } from "node:worker_threads";
import { badResult, resultBytes, toBuffer } from "../bytes.js";
import { importFunction } from "../threads/module-export.js";

export interface ModuleTask {
  readonly specifier: string;
  readonly exportName: string;
  readonly func: string;
  readonly handle: string;
  readonly unique: string;
  readonly workload: Uint8Array;
  /** The executor's channel for status and data packets while jobs run, and this job's id on it. */
  readonly channel: string;
  readonly id: number;
}

export type ModuleResult =
  { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly message: string };

export type ProgressMessage = { readonly id: number } & (
  { readonly status: [number, number] } | { readonly data: Uint8Array }
);

export interface ServeJob {
  readonly workload: Buffer;
  readonly functionName: string;
  readonly handle: string;
  readonly unique: string;
  sendStatus(numerator: number, denominator: number): void;
  sendData(data: string | Uint8Array): void;
}

/** One channel per executor and thread, opened by the first job that sends progress (a port per job cost more than the job). */
const channels = new Map<string, BroadcastChannel>();

function channelOf(name: string): BroadcastChannel {
  let channel = channels.get(name);
  if (!channel) {
    channel = new BroadcastChannel(name);
    channel.unref();
    channels.set(name, channel);
  }
  return channel;
}

export default async function runModuleJob(task: ModuleTask): Promise<ModuleResult> {
  const { id } = task;
  const post = (message: ProgressMessage) => channelOf(task.channel).postMessage(message);
  try {
    const handler = await importFunction<(job: ServeJob) => unknown>(task.specifier, task.exportName);
    const job: ServeJob = {
      workload: toBuffer(task.workload, "workload"),
      functionName: task.func,
      handle: task.handle,
      unique: task.unique,
      sendStatus(numerator, denominator) {
        for (const n of [numerator, denominator])
          if (!Number.isSafeInteger(n) || n < 0)
            throw new TypeError(`sendStatus: expected whole numbers ≥ 0, got ${numerator}/${denominator}`);
        post({ id, status: [numerator, denominator] });
      },
      sendData(data) {
        if (typeof data !== "string" && !(data instanceof Uint8Array))
          throw new TypeError(`sendData: expected a string or bytes, got ${typeof data}`);
        post({ id, data: typeof data === "string" ? Buffer.from(data) : data });
      },
    };
    const value = await handler(job);
    const data = resultBytes(value);
    return data ? { ok: true, data } : { ok: false, message: badResult(task.exportName, value) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}
