/**
 * The thread side of the module executor: imports the pool's module once per
 * thread and calls its export with the job. The handler gets
 *
 *   { workload: Buffer, functionName, handle, unique, sendStatus(numerator, denominator), sendData(bytes) }
 *
 * and returns a string, bytes (Buffer / Uint8Array) or nothing; a throw ends
 * the job with its message.
 */
import type { MessagePort } from "node:worker_threads";

export interface ModuleTask {
  readonly specifier: string;
  readonly exportName: string;
  readonly func: string;
  readonly handle: string;
  readonly unique: string;
  readonly workload: Uint8Array;
  /** Carries status and data packets back while the job runs. */
  readonly port: MessagePort;
}

export type ModuleResult = { readonly ok: true; readonly data: Uint8Array } | { readonly ok: false; readonly message: string };

export type ProgressMessage = { readonly status: [number, number] } | { readonly data: Uint8Array };

export interface ServeJob {
  readonly workload: Buffer;
  readonly functionName: string;
  readonly handle: string;
  readonly unique: string;
  sendStatus(numerator: number, denominator: number): void;
  sendData(data: string | Uint8Array): void;
}

const handlers = new Map<string, Promise<(job: ServeJob) => unknown>>();

function handlerOf(specifier: string, exportName: string): Promise<(job: ServeJob) => unknown> {
  const key = `${specifier}#${exportName}`;
  let handler = handlers.get(key);
  if (!handler) {
    handler = import(specifier).then((module: Record<string, unknown>) => {
      const fn = module[exportName];
      if (typeof fn !== "function") throw new Error(`${specifier} exports no function called ${exportName} (got ${typeof fn})`);
      return fn as (job: ServeJob) => unknown;
    });
    handler.catch(() => handlers.delete(key));
    handlers.set(key, handler);
  }
  return handler;
}

export default async function runModuleJob(task: ModuleTask): Promise<ModuleResult> {
  const { port } = task;
  try {
    const handler = await handlerOf(task.specifier, task.exportName);
    const job: ServeJob = {
      workload: Buffer.from(task.workload.buffer, task.workload.byteOffset, task.workload.byteLength),
      functionName: task.func,
      handle: task.handle,
      unique: task.unique,
      sendStatus(numerator, denominator) {
        for (const n of [numerator, denominator]) if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`sendStatus: expected whole numbers ≥ 0, got ${numerator}/${denominator}`);
        port.postMessage({ status: [numerator, denominator] } satisfies ProgressMessage);
      },
      sendData(data) {
        if (typeof data !== "string" && !(data instanceof Uint8Array)) throw new TypeError(`sendData: expected a string or bytes, got ${typeof data}`);
        port.postMessage({ data: typeof data === "string" ? Buffer.from(data) : data } satisfies ProgressMessage);
      },
    };
    const value = await handler(job);
    if (value === undefined || value === null) return { ok: true, data: new Uint8Array(0) };
    if (typeof value === "string") return { ok: true, data: Buffer.from(value) };
    if (value instanceof Uint8Array) return { ok: true, data: value };
    return { ok: false, message: `${task.exportName} returned ${typeof value}, expected a string, bytes or nothing` };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  } finally {
    port.close();
  }
}
