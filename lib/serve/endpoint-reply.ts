/**
 * An HTTP endpoint's reply, judged as Driveshaft does: a 2xx status and a JSON
 * object {"gearman_ret": N, "response_string": "..."} with N a whole number ≥ 0
 * and response_string a string. 0 completes the job with response_string
 * (UTF-8), any other N raises WORK_EXCEPTION carrying it; anything else is a
 * bad reply that fails the job.
 */
import type { Outcome } from "./executor.js";

const snippet = (body: Buffer): string => {
  const text = body
    .subarray(0, 120)
    .toString("utf8")
    .replace(/[\r\n\t]+/g, " ");
  return body.length > 120 ? `${text}…` : text;
};

export function judgeReply(status: number, body: Buffer): Outcome {
  if (status < 200 || status > 299)
    return {
      kind: "bad_reply",
      reason: `HTTP status ${status} (body: ${JSON.stringify(snippet(body))})`,
      httpStatus: status,
    };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return { kind: "bad_reply", reason: `the body is not JSON: ${JSON.stringify(snippet(body))}` };
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    return { kind: "bad_reply", reason: `the body is JSON but not an object: ${JSON.stringify(snippet(body))}` };
  const reply = parsed as Record<string, unknown>;
  const ret = reply.gearman_ret;
  if (typeof ret !== "number" || !Number.isInteger(ret) || ret < 0)
    return {
      kind: "bad_reply",
      reason: `gearman_ret is ${ret === undefined ? "missing" : JSON.stringify(ret)}, expected a whole number ≥ 0`,
    };
  const response = reply.response_string;
  if (typeof response !== "string")
    return {
      kind: "bad_reply",
      reason: `response_string is ${response === undefined ? "missing" : `a ${response === null ? "null" : typeof response}`}, expected a string`,
    };
  return ret === 0 ? { kind: "complete", data: Buffer.from(response, "utf8") } : { kind: "exception", data: response };
}
