/**
 * Runs a pool's jobs on its HTTP endpoint: one POST per job over kept-alive
 * connections (one agent per pool, at most worker_count sockets), the reply
 * judged by endpoint-reply.ts. Aborting a job destroys its request.
 */
import http from "node:http";
import https from "node:https";
import { urlToHttpOptions } from "node:url";
import type { JobAbort, JobExecutor, JobInput, Outcome } from "./executor.js";
import { RequestBuilder } from "./endpoint-request.js";
import { judgeReply } from "./endpoint-reply.js";
import type { RequestFormat } from "./jobs-config.js";

/** Largest reply body read, in bytes (a Gearman packet's default limit). */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export interface HttpExecutorOptions {
  readonly uri: string;
  readonly format: RequestFormat;
  /** Sockets kept per endpoint (the pool's worker_count). */
  readonly sockets: number;
}

export class HttpExecutor implements JobExecutor {
  private readonly agent: http.Agent;
  private readonly builder: RequestBuilder;
  private readonly send: typeof http.request;
  /** The endpoint's host, port and path, parsed once rather than from the URL on every request. */
  private readonly target: http.RequestOptions;

  constructor(options: HttpExecutorOptions) {
    const url = new URL(options.uri);
    const secure = url.protocol === "https:";
    const agentOptions = { keepAlive: true, maxSockets: Math.max(1, options.sockets), scheduling: "lifo" as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.send = secure ? https.request : http.request;
    const { protocol, hostname, port, path, auth } = urlToHttpOptions(url);
    this.target = { protocol, hostname, port, path, auth, method: "POST", agent: this.agent };
    this.builder = new RequestBuilder(options.format);
  }

  run(job: JobInput, _progress: unknown, abort: JobAbort): Promise<Outcome> {
    const request = this.builder.build(job);
    return this.post(request.contentType, request.body, abort, true);
  }

  private post(contentType: string, body: Buffer, abort: JobAbort, mayRetry: boolean): Promise<Outcome> {
    return new Promise((resolve) => {
      if (abort.aborted) return resolve({ kind: "bad_reply", reason: `aborted: ${abort.reason?.message}` });
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (settled) return;
        settled = true;
        abort.onAbort(undefined);
        resolve(outcome);
      };
      const req = this.send({ ...this.target, headers: { "content-type": contentType, "content-length": body.length } });
      abort.onAbort((reason) => {
        req.destroy();
        settle({ kind: "bad_reply", reason: `aborted: ${reason.message}` });
      });
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            req.destroy();
            settle({ kind: "bad_reply", reason: `the reply is larger than ${MAX_REPLY_BYTES} bytes` });
          } else chunks.push(chunk);
        });
        res.on("end", () => settle(judgeReply(res.statusCode ?? 0, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))));
        res.on("error", (error) => settle({ kind: "bad_reply", reason: `the reply broke off: ${describeError(error)}` }));
        res.on("aborted", () => settle({ kind: "bad_reply", reason: "the reply broke off: connection reset" }));
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        if (settled) return;
        // A kept-alive socket the endpoint closed while idle fails at once: send again on a new one, once.
        if (mayRetry && req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE")) {
          settled = true;
          abort.onAbort(undefined);
          return void this.post(contentType, body, abort, false).then(resolve);
        }
        settle({ kind: "bad_reply", reason: describeError(error) });
      });
      req.end(body);
    });
  }

  resize(slots: number): void {
    this.agent.maxSockets = Math.max(1, slots);
  }

  async close(): Promise<void> {
    this.agent.destroy();
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
