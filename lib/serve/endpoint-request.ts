/**
 * The request body an HTTP endpoint gets for a job, in either format:
 *
 *   multipart/form-data (default, what Driveshaft sends with libcurl; PHP reads $_POST):
 *     fields function_name, job_handle, unique, workload; the workload part carries the
 *     job's exact bytes, whatever they are (PHP's $_POST['workload'] holds them unchanged)
 *   application/json (request_format "json", the body Driveshaft's README shows):
 *     {"function_name", "job_handle", "unique", "workload"} where workload is the text of a
 *     UTF-8 workload; a workload that is not valid UTF-8 is sent as "workload_base64" instead
 */
import { randomBytes } from "node:crypto";
import type { RequestFormat } from "./jobs-config.js";
import type { JobInput } from "./executor.js";

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
  const fields: Record<string, string> = { function_name: job.func, job_handle: job.handle, unique: job.unique };
  if (text === undefined) fields.workload_base64 = job.workload.toString("base64");
  else fields.workload = text;
  return Buffer.from(JSON.stringify(fields));
}

export function multipartBody(job: JobInput, boundary: string): Buffer {
  const part = (name: string) => Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`);
  const crlf = Buffer.from("\r\n");
  return Buffer.concat([
    part("function_name"), Buffer.from(job.func), crlf,
    part("job_handle"), Buffer.from(job.handle), crlf,
    part("unique"), Buffer.from(job.unique), crlf,
    part("workload"), job.workload, crlf,
    Buffer.from(`--${boundary}--\r\n`),
  ]);
}

const newBoundary = () => `------------------------glimpse${randomBytes(12).toString("hex")}`;

/** Builds requests in one format; a multipart boundary is drawn once and redrawn only when a job's bytes contain it. */
export class RequestBuilder {
  private boundary = newBoundary();

  constructor(private readonly format: RequestFormat) {}

  build(job: JobInput): EndpointRequest {
    if (this.format === "json") return { contentType: "application/json", body: jsonBody(job) };
    while ([job.workload, Buffer.from(job.unique), Buffer.from(job.handle)].some((bytes) => bytes.includes(this.boundary))) this.boundary = newBoundary();
    return { contentType: `multipart/form-data; boundary=${this.boundary}`, body: multipartBody(job, this.boundary) };
  }
}
