/**
 * HTTP endpoints for serve tests: a Node http server that reads the job the
 * way a PHP endpoint does ($_POST from multipart/form-data, byte for byte),
 * or reads the JSON body, and answers what the test says.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedJob {
  readonly contentType: string;
  /** Form fields (multipart) or the JSON object's string fields, as bytes. */
  readonly fields: Record<string, Buffer>;
  readonly json: Record<string, unknown> | undefined;
  /** Fires when the request's connection closes before the reply (serve aborted it). */
  readonly aborted: Promise<void>;
}

/** What to do with one request: a reply, a reset connection, or nothing (held until the test answers through `reply`). */
export type Answer = { status?: number; body: string } | "reset" | "hold";

export interface HeldRequest {
  readonly job: ReceivedJob;
  reply(answer: { status?: number; body: string }): void;
}

/** Parses multipart/form-data as PHP fills $_POST: each part's name and its exact bytes. */
export function parseMultipart(contentType: string, body: Buffer): Record<string, Buffer> {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const fields: Record<string, Buffer> = {};
  let at = body.indexOf(delimiter);
  if (at < 0) throw new Error("multipart body without its boundary");
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === "--") return fields;
    at += 2; // CRLF after the delimiter
    const headersEnd = body.indexOf("\r\n\r\n", at);
    const headers = body.subarray(at, headersEnd).toString("latin1");
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    const next = body.indexOf(Buffer.concat([Buffer.from("\r\n"), delimiter]), headersEnd + 4);
    if (name === undefined || next < 0) throw new Error(`bad multipart part: ${headers}`);
    fields[name] = body.subarray(headersEnd + 4, next);
    at = next + 2;
  }
}

export class TestEndpoint {
  readonly jobs: ReceivedJob[] = [];
  readonly held: HeldRequest[] = [];
  private readonly server: http.Server;
  private readonly waiters = new Set<() => void>();
  url = "";

  constructor(private answer: (job: ReceivedJob) => Answer) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const contentType = req.headers["content-type"] ?? "";
        let fields: Record<string, Buffer>;
        let json: Record<string, unknown> | undefined;
        if (contentType.startsWith("application/json")) {
          json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
          fields = Object.fromEntries(
            Object.entries(json)
              .filter(([, v]) => typeof v === "string")
              .map(([k, v]) => [k, Buffer.from(v as string)]),
          );
        } else fields = parseMultipart(contentType, body);
        const aborted = new Promise<void>((resolve) => res.on("close", () => !res.writableFinished && resolve()));
        const job: ReceivedJob = { contentType, fields, json, aborted };
        this.jobs.push(job);
        const answer = this.answer(job);
        const send = (a: { status?: number; body: string }) =>
          res.writeHead(a.status ?? 200, { "content-type": "application/json" }).end(a.body);
        if (answer === "reset") req.socket.destroy();
        else if (answer === "hold") this.held.push({ job, reply: send });
        else send(answer);
        for (const wake of this.waiters) wake();
      });
    });
  }

  setAnswer(answer: (job: ReceivedJob) => Answer): void {
    this.answer = answer;
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/job.php`;
    return this;
  }

  /** Resolves once `count` requests are held. */
  waitHeld(count: number, limitMs = 10_000): Promise<HeldRequest[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.held.length < count) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(this.held.slice(0, count));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${count} held requests did not arrive within ${limitMs} ms (got ${this.held.length})`));
      }, limitMs);
      this.waiters.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export const ok = (response: string) => ({ body: JSON.stringify({ gearman_ret: 0, response_string: response }) });
