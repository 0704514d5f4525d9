/**
 * Runs a pool's jobs on its HTTP endpoint: one POST per job over kept-alive
 * connections (at most worker_count, endpoint-client.ts), the reply judged
 * by endpoint-reply.ts. Aborting a job closes its connection.
 */
import type { JobAbort, JobExecutor, JobInput, Outcome } from "./executor.js";
import { RequestBuilder } from "./endpoint-request.js";
import { judgeReply } from "./endpoint-reply.js";
import { EndpointClient } from "./endpoint-client.js";
import type { RequestFormat } from "./jobs-config.js";

export interface HttpExecutorOptions {
  readonly uri: string;
  readonly format: RequestFormat;
  /** Connections kept to the endpoint (the pool's worker_count). */
  readonly sockets: number;
}

export class HttpExecutor implements JobExecutor {
  private readonly client: EndpointClient;
  private readonly builder: RequestBuilder;

  constructor(options: HttpExecutorOptions) {
    this.client = new EndpointClient(options.uri, options.sockets);
    this.builder = new RequestBuilder(options.format);
  }

  async run(job: JobInput, _progress: unknown, abort: JobAbort): Promise<Outcome> {
    const request = this.builder.build(job);
    try {
      const reply = await this.client.post(request.contentType, request.body, abort);
      return judgeReply(reply.status, reply.body);
    } catch (error) {
      if (abort.aborted) return { kind: "bad_reply", reason: `aborted: ${abort.reason?.message}` };
      return { kind: "bad_reply", reason: describeError(error as NodeJS.ErrnoException) };
    }
  }

  resize(slots: number): void {
    this.client.resize(slots);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return `connection refused (${error.message})`;
    case "ECONNRESET":
      return `connection reset (${error.message})`;
    case "ETIMEDOUT":
      return `connection timed out (${error.message})`;
    default:
      return error.code ? `${error.code}: ${error.message}` : error.message;
  }
}
