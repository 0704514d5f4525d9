/**
 * Runs a pool's jobs with an exported function on piscina threads, one per
 * slot. Aborting a job (max_running_time, stop) terminates its thread;
 * piscina starts a fresh one in its place.
 */
import { BroadcastChannel, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { randomBytes } from "node:crypto";
import type { Piscina } from "piscina";
import { toBuffer } from "../bytes.js";
import { fixedThreadPool } from "../threads/thread-pool.js";
import type { JobAbort, JobExecutor, JobInput, JobProgress, Outcome } from "./executor.js";
import type { ModuleResult, ModuleTask, ProgressMessage } from "./module-runner.js";

export interface ModuleExecutorOptions {
  readonly specifier: string;
  readonly exportName: string;
  readonly threads: number;
}

/**
 * Status and data come back on one BroadcastChannel per executor, each message naming its job:
 * a MessageChannel per job, transferred with the task, made piscina's postTask the largest cost
 * of a module job.
 */
export class ModuleExecutor implements JobExecutor {
  private readonly pool: Piscina;
  private readonly channelName = `glimpse-serve-module-${process.pid}-${randomBytes(8).toString("hex")}`;
  private readonly channel = new BroadcastChannel(this.channelName);
  private readonly progressOf = new Map<number, JobProgress>();
  private nextId = 1;

  constructor(private readonly options: ModuleExecutorOptions) {
    this.pool = fixedThreadPool(new URL("./module-runner.js", import.meta.url), {
      threads: Math.max(1, options.threads),
      tasksPerThread: 1,
    });
    this.channel.onmessage = (event) => this.forward((event as MessageEvent).data as ProgressMessage);
    this.channel.unref();
  }

  /** The next message queued on the channel, taken now (Node reads a BroadcastChannel as a port; its types say MessagePort only). */
  private receive(): { message: unknown } | undefined {
    return receiveMessageOnPort(this.channel as unknown as MessagePort);
  }

  private forward(message: ProgressMessage): void {
    const progress = this.progressOf.get(message.id);
    if (!progress) return; // its job ended (timed out, aborted): nothing more goes to its client
    if ("status" in message) progress.sendStatus(message.status[0], message.status[1]);
    else progress.sendData(message.data);
  }

  async run(job: JobInput, progress: JobProgress, abort: JobAbort): Promise<Outcome> {
    const signal = abort.toSignal();
    const id = this.nextId++;
    this.progressOf.set(id, progress);
    const task: ModuleTask = {
      specifier: this.options.specifier,
      exportName: this.options.exportName,
      func: job.func,
      handle: job.handle,
      unique: job.unique,
      workload: job.workload,
      channel: this.channelName,
      id,
    };
    try {
      const result = (await this.pool.run(task, { signal })) as ModuleResult;
      // Progress posted before the handler returned is queued on the channel already: send it before the result.
      for (let queued = this.receive(); queued; queued = this.receive())
        this.forward(queued.message as ProgressMessage);
      return result.ok
        ? { kind: "complete", data: toBuffer(result.data, "module result") }
        : { kind: "exception", data: result.message };
    } catch (error) {
      if (signal.aborted)
        return { kind: "bad_reply", reason: `aborted: ${(signal.reason as Error)?.message ?? signal.reason}` };
      return {
        kind: "exception",
        data: `the thread running ${this.options.exportName} failed: ${(error as Error)?.message ?? error}`,
      };
    } finally {
      this.progressOf.delete(id);
    }
  }

  close(): Promise<void> {
    this.channel.close();
    return this.pool.destroy();
  }
}
