/**
 * The request body an HTTP endpoint gets for a job, in either format:
 *
 *   multipart/form-data (default, what Driveshaft sends with libcurl; PHP reads $_POST):
 *     fields function_name, job_handle, unique, workload; the workload part carries the
 *     job's exact bytes, whatever they are (PHP's $_POST['workload'] holds them unchanged),
 *     and so does job_handle (a handle is bytes: gearman/job-handle.ts)
 *   application/json (request_format "json", the body Driveshaft's README shows):
 *     {"function_name", "job_handle", "unique", "workload"} where workload is the text of a
 *     UTF-8 workload; a workload that is not valid UTF-8 is sent as "workload_base64" instead;
 *     job_handle is the text of its bytes (one char per byte where they are no UTF-8)
 */
import { randomBytes } from "node:crypto";
import type { RequestFormat } from "./jobs-config.js";
import type { JobInput } from "./executor.js";
import { handleBytes } from "../gearman/job-handle.js";

export interface EndpointRequest {
  readonly contentType: string;
  readonly body: Buffer;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The workload as text when it is valid UTF-8, else undefined. */
export function utf8Text(bytes: Buffer): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

export function jsonBody(job: JobInput): Buffer {
  const text = utf8Text(job.workload);
  const handle = utf8Text(handleBytes(job.handle)) ?? job.handle;
  const fields: Record<string, string> = { function_name: job.func, job_handle: handle, unique: job.unique };
  if (text === undefined) fields.workload_base64 = job.workload.toString("base64");
  else fields.workload = text;
  return Buffer.from(JSON.stringify(fields));
}

/** The fixed bytes of a multipart body for one boundary: the head before each field, and the closing line. */
class MultipartFrame {
  private readonly heads: readonly Buffer[];
  private readonly tail: Buffer;

  constructor(readonly boundary: string) {
    const head = (name: string, first: boolean) =>
      Buffer.from(`${first ? "" : "\r\n"}--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`);
    this.heads = FIELDS.map((name, i) => head(name, i === 0));
    this.tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  }

  /** The body, written into one buffer (serve builds one per job). */
  body(job: JobInput): Buffer {
    const texts = [job.func, job.handle, job.unique];
    // The handle's own bytes (a byte string, one char per byte); the others are UTF-8 text.
    const encodings = ["utf8", "latin1", "utf8"] as const;
    let size = this.tail.length + job.workload.length;
    for (const head of this.heads) size += head.length;
    for (let i = 0; i < 3; i++) size += Buffer.byteLength(texts[i], encodings[i]);
    const body = Buffer.allocUnsafe(size);
    let at = 0;
    for (let i = 0; i < 3; i++) {
      at += this.heads[i].copy(body, at);
      at += body.write(texts[i], at, encodings[i]);
    }
    at += this.heads[3].copy(body, at);
    at += job.workload.copy(body, at);
    this.tail.copy(body, at);
    return body;
  }
}

const FIELDS = ["function_name", "job_handle", "unique", "workload"] as const;

export function multipartBody(job: JobInput, boundary: string): Buffer {
  return new MultipartFrame(boundary).body(job);
}

const newBoundary = () => `------------------------glimpse${randomBytes(12).toString("hex")}`;

/** Builds requests in one format; a multipart boundary is drawn once and redrawn only when a job's bytes contain it. */
export class RequestBuilder {
  private frame = new MultipartFrame(newBoundary());
  private contentType = `multipart/form-data; boundary=${this.frame.boundary}`;

  constructor(private readonly format: RequestFormat) {}

  build(job: JobInput): EndpointRequest {
    if (this.format === "json") return { contentType: "application/json", body: jsonBody(job) };
    // The boundary is ASCII, so a field's text holds it exactly when the field's UTF-8 bytes do.
    while (
      [job.func, job.handle, job.unique].some((text) => text.includes(this.frame.boundary)) ||
      job.workload.includes(this.frame.boundary)
    ) {
      this.frame = new MultipartFrame(newBoundary());
      this.contentType = `multipart/form-data; boundary=${this.frame.boundary}`;
    }
    return { contentType: this.contentType, body: this.frame.body(job) };
  }
}
