/**
 * The serve benches' Node endpoint, in a process of its own, on kept-alive connections: answers every POST with
 * gearman_ret 0 and prints its port. With the argument `echo`, response_string is the multipart body's `workload`
 * field (what the raw load generator checks); without it, "ok".
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

const echo = process.argv[2] === "echo";
const OK = JSON.stringify({ gearman_ret: 0, response_string: "ok" });
const WORKLOAD = Buffer.from('name="workload"');

/** The workload part of a multipart body, as text (the bench's workloads are ASCII). */
function workload(body: Buffer): string {
  const name = body.indexOf(WORKLOAD);
  const start = body.indexOf("\r\n\r\n", name) + 4;
  if (name < 0 || start < 4) return "";
  return body.toString("latin1", start, body.indexOf("\r\n--", start));
}

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => echo && chunks.push(chunk));
  req.on("end", () => {
    const reply = echo ? JSON.stringify({ gearman_ret: 0, response_string: workload(Buffer.concat(chunks)) }) : OK;
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(reply) }).end(reply);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => process.exit(0));
