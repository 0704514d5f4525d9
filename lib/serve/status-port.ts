/**
 * Driveshaft's status port: one command per connection, answered, then the
 * connection is closed.
 *
 *   threads  one line per slot: <Slot-ID>\t<Pool-Name>\t<Shutdown-Flag>\t<State>\r\n
 *            State is "Waiting for work" or "job_handle=<Job-Handle> job_unique=<Job-Unique>";
 *            the shutdown flag is 1 for a slot being removed
 *   pools    beyond Driveshaft: <Pool-Name>\tslots=N\tbusy=N\tdone=N\tfailed=N\ttimed_out=N\tretiring=0|1\tat_endpoint=X\r\n
 *            at_endpoint: requests at the endpoint on average over about the last 10 s, two decimals
 *   version  beyond Driveshaft: glimpse-cluster <version>\r\n
 *   other    Error: unrecognized command\r\n
 *
 * A command ends at "\n" ("\r\n" too) or at the end of what the peer sent.
 * An HTTP request (`GET /metrics HTTP/1.1`) is answered with the Prometheus
 * text; any other HTTP path gets 404. Nothing a peer sends can crash it: a
 * command longer than 4 KiB is answered as unrecognized, and a connection
 * silent for 10 s is closed.
 */
import net from "node:net";
import type { Serve } from "./serve.js";
import { optionsSchema, text, whole, type RulesOf } from "../options-schema.js";

const MAX_REQUEST = 4096;
/** A connection that sends no complete command for this long is closed. */
const IDLE_MS = 10_000;

export interface StatusPortOptions {
  readonly host: string;
  readonly port: number;
  readonly version: string;
}

const STATUS_PORT = optionsSchema("StatusPort", {
  host: text("an address such as 127.0.0.1"),
  port: whole(0, 65535),
  version: text(),
} satisfies RulesOf<StatusPortOptions>);

export function threadsText(serve: Serve): string {
  let out = "";
  for (const { pool, slots } of serve.slots()) {
    for (const slot of slots) {
      const state = slot.job ? `job_handle=${slot.job.handle} job_unique=${slot.job.unique}` : "Waiting for work";
      out += `${slot.id}\t${pool}\t${slot.removing ? 1 : 0}\t${state}\r\n`;
    }
  }
  return out;
}

export function poolsText(serve: Serve): string {
  return serve
    .summaries()
    .map(
      (p) =>
        `${p.pool}\tslots=${p.slots}\tbusy=${p.busy}\tdone=${p.done}\tfailed=${p.failed}\ttimed_out=${p.timedOut}\tretiring=${p.retiring ? 1 : 0}\tat_endpoint=${p.atEndpoint.toFixed(2)}\r\n`,
    )
    .join("");
}

export class StatusPort {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  private readonly options: StatusPortOptions;

  /** A bad option is an ArgumentError. */
  constructor(
    private readonly serve: Serve,
    options: StatusPortOptions,
  ) {
    this.options = STATUS_PORT.fill(options);
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on("error", () => {});
  }

  listen(): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", onError);
        resolve(this.server.address() as net.AddressInfo);
      });
    });
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let answered = false;
    const answer = (request: string) => {
      if (answered) return;
      answered = true;
      socket.removeAllListeners("data");
      void this.reply(request).then(
        (text) => socket.end(text),
        () => socket.destroy(),
      );
    };
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const text = buffer.toString("latin1");
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r?\n/.test(text)) {
        if (/\r?\n\r?\n/.test(text)) answer(text);
      } else if (text.includes("\n")) answer(text.slice(0, text.indexOf("\n")));
      if (!answered && buffer.length > MAX_REQUEST) answer("");
    });
    socket.on("end", () => answer(buffer.toString("latin1")));
  }

  private async reply(request: string): Promise<string> {
    const http = /^([A-Z]+) (\S+) HTTP\/1\.[01]/.exec(request);
    if (http) return this.httpReply(http[1], http[2]);
    switch (request.replace(/\r$/, "")) {
      case "threads":
        return threadsText(this.serve);
      case "pools":
        return poolsText(this.serve);
      case "version":
        return `glimpse-cluster ${this.options.version}\r\n`;
      default:
        return "Error: unrecognized command\r\n";
    }
  }

  private async httpReply(method: string, target: string): Promise<string> {
    const path = target.split("?")[0];
    if (path !== "/metrics")
      return httpText(404, "text/plain; charset=utf-8", "not found: the status port serves GET /metrics\n");
    if (method !== "GET" && method !== "HEAD") return httpText(405, "text/plain; charset=utf-8", "only GET /metrics\n");
    const body = await this.serve.metrics.text();
    return httpText(200, this.serve.metrics.contentType, method === "HEAD" ? "" : body, Buffer.byteLength(body));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function httpText(status: number, contentType: string, body: string, length = Buffer.byteLength(body)): string {
  const reason = status === 200 ? "OK" : status === 404 ? "Not Found" : "Method Not Allowed";
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n${body}`;
}
