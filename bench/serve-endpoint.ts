/** The serve bench's trivial endpoint, in a process of its own: answers every POST with gearman_ret 0, and prints its port. */
import http from "node:http";
import type { AddressInfo } from "node:net";

const REPLY = JSON.stringify({ gearman_ret: 0, response_string: "ok" });
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  req.resume();
  req.on("end", () =>
    res.writeHead(200, { "content-type": "application/json", "content-length": REPLY.length }).end(REPLY),
  );
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
process.on("SIGTERM", () => process.exit(0));
