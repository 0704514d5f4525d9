/**
 * Runs a pool's jobs with an exported function on piscina threads, one per
 * slot. Aborting a job (max_running_time, stop) terminates its thread;
 * piscina starts a fresh one in its place.
 */
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
import { Piscina } from "piscina";
import type { JobAbort, JobExecutor, JobInput, JobProgress, Outcome } from "./executor.js";
import type { ModuleResult, ModuleTask, ProgressMessage } from "./module-runner.js";

export interface ModuleExecutorOptions {
  readonly specifier: string;
  readonly exportName: string;
  readonly threads: number;
}

export class ModuleExecutor implements JobExecutor {
  private readonly pool: Piscina;

  constructor(private readonly options: ModuleExecutorOptions) {
    const threads = Math.max(1, options.threads);
    this.pool = new Piscina({ filename: new URL("./module-runner.js", import.meta.url).href, minThreads: threads, maxThreads: threads, concurrentTasksPerWorker: 1 });
  }

  async run(job: JobInput, progress: JobProgress, abort: JobAbort): Promise<Outcome> {
    const signal = abort.toSignal();
    const { port1, port2 } = new MessageChannel();
    const forward = (message: ProgressMessage) => {
      if ("status" in message) progress.sendStatus(message.status[0], message.status[1]);
      else progress.sendData(message.data);
    };
    port1.on("message", forward);
    const task: ModuleTask = { specifier: this.options.specifier, exportName: this.options.exportName, func: job.func, handle: job.handle, unique: job.unique, workload: job.workload, port: port2 };
    try {
      const result = (await this.pool.run(task, { signal, transferList: [port2] })) as ModuleResult;
      // Progress posted before the handler returned is queued on the port already: send it before the result.
      for (let queued = receiveMessageOnPort(port1); queued; queued = receiveMessageOnPort(port1)) forward(queued.message as ProgressMessage);
      return result.ok ? { kind: "complete", data: Buffer.from(result.data.buffer, result.data.byteOffset, result.data.byteLength) } : { kind: "exception", data: result.message };
    } catch (error) {
      if (signal.aborted) return { kind: "bad_reply", reason: `aborted: ${(signal.reason as Error)?.message ?? signal.reason}` };
      return { kind: "exception", data: `the thread running ${this.options.exportName} failed: ${(error as Error)?.message ?? error}` };
    } finally {
      port1.close();
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
