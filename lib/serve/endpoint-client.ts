/**
 * POSTs to one endpoint over kept-alive HTTP/1.1 connections (at most
 * `sockets` of them; a pool's worker_count), one request at a time on each.
 *
 *   post ──► an idle connection (the last one freed), or a new one below the limit, or wait
 *        ──► head and body in one write (on a new connection: sent as it connects, Nagle off after)
 *        ──► ReplyReader ──► reply: back to idle if it may be kept (keep-alive probes on from then)
 *   Connection: close, or the endpoint's FIN: the connection leaves the count at once (not at its close
 *   event), so the next request connects without waiting; a reply that runs until the close ends at the FIN
 *   a kept connection the endpoint closed while idle fails before any reply byte: sent again, once,
 *   on a new connection
 *
 * Written for serve's hot path rather than with node:http: a job's request
 * through Node's client, agent and streams cost about 30 µs of CPU here, the
 * same exchange over a bare socket about a tenth of that, which is most of
 * what serve spends per job (docs/benchmarks.md, serve).
 */
import net from "node:net";
import tls from "node:tls";
import { ReplyReader, type HttpReply } from "./http-reply-reader.js";
import type { JobAbort } from "./executor.js";

/** Largest reply body read, in bytes (a Gearman packet's default limit). */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

interface Exchange {
  readonly reader: ReplyReader;
  settle(result: { reply: HttpReply } | { error: Error }): void;
}

/** One kept-alive connection to the endpoint. */
class EndpointConnection {
  readonly socket: net.Socket;
  /** It carried a reply already (a failure before any byte of the next one may be the endpoint's idle close). */
  reused = false;
  /** Keep-alive probes are on: set the first time it is kept for another request, never on a connection used once. */
  probing = false;
  closed = false;
  exchange: Exchange | undefined;
  private failure: Error | undefined;

  constructor(
    url: URL,
    private readonly onGone: (connection: EndpointConnection) => void,
  ) {
    const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
    const secure = url.protocol === "https:";
    const port = Number(url.port) || (secure ? 443 : 80);
    // Half-open allowed: the endpoint's FIN ends a reply that runs until the close at once (no shutdown first).
    this.socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ALPNProtocols: ["http/1.1"] })
      : net.connect({ host, port, allowHalfOpen: true });
    // Plain TCP: Nagle is turned off right after the request is written (exchange), not before: nothing may stand
    // between the connect and the request's bytes, or an endpoint that accepts before reading (php -S) may take
    // another connection first and leave this one waiting behind it.
    if (secure) this.socket.setNoDelay(true);
    this.socket.on("data", (chunk: Buffer) => {
      const exchange = this.exchange;
      if (!exchange) return void this.discard(); // bytes nobody asked for
      let reply: HttpReply | undefined;
      try {
        reply = exchange.reader.push(chunk);
      } catch (error) {
        this.exchange = undefined;
        this.discard();
        return exchange.settle({ error: error as Error });
      }
      if (!reply) return;
      this.exchange = undefined;
      if (!reply.keepAlive || exchange.reader.leftover) this.discard();
      exchange.settle({ reply });
    });
    this.socket.on("error", (error) => (this.failure ??= error));
    // The endpoint closed its side: a reply that runs until the close is complete, anything else broke off.
    this.socket.on("end", () => this.ended());
    this.socket.once("close", () => this.ended());
  }

  /** The endpoint closed the connection (or it failed): it is forgotten, and a request on it settles now. */
  private ended(): void {
    const exchange = this.exchange;
    this.exchange = undefined;
    this.discard();
    if (!exchange) return;
    let reply: HttpReply | undefined;
    try {
      reply = exchange.reader.end();
    } catch (error) {
      return exchange.settle({ error: this.failure ?? (exchange.reader.started ? (error as Error) : hangUp()) });
    }
    exchange.settle(reply ? { reply } : { error: this.failure ?? hangUp() });
  }

  /** Closes it now and leaves the client's count at once; it is never handed out again. */
  discard(): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
    }
    this.onGone(this);
  }
}

/** The endpoint closed the connection before any byte of a reply, as Node's client reports it. */
function hangUp(): NodeJS.ErrnoException {
  return Object.assign(new Error("socket hang up: the endpoint closed the connection before replying"), {
    code: "ECONNRESET",
  });
}

export class EndpointClient {
  private readonly url: URL;
  /** The request head up to its Content-Type, the same for every job. */
  private readonly headStart: string;
  private readonly idle: EndpointConnection[] = [];
  private readonly all = new Set<EndpointConnection>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;

  constructor(
    uri: string,
    private sockets: number,
  ) {
    this.url = new URL(uri);
    const auth =
      this.url.username || this.url.password
        ? `Authorization: Basic ${Buffer.from(`${decodeURIComponent(this.url.username)}:${decodeURIComponent(this.url.password)}`).toString("base64")}\r\n`
        : "";
    this.headStart = `POST ${this.url.pathname}${this.url.search} HTTP/1.1\r\nHost: ${this.url.host}\r\n${auth}Connection: keep-alive\r\n`;
  }

  /** Connections that count against the limit now: open, opening, or carrying a request. */
  get open(): number {
    return this.all.size;
  }

  /** Sends one request; resolves with the reply, rejects with the connection's error (or a ReplyError). Aborting destroys its connection. */
  async post(contentType: string, body: Buffer, abort: JobAbort): Promise<HttpReply> {
    const head = Buffer.from(
      `${this.headStart}Content-Type: ${contentType}\r\nContent-Length: ${body.length}\r\n\r\n`,
      "latin1",
    );
    for (let attempt = 0; ; attempt++) {
      const connection = await this.take(attempt > 0, abort);
      const reused = connection.reused;
      try {
        return await this.exchange(connection, head, body, abort);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // A kept connection the endpoint closed while it was idle: send again on a new one, once.
        const idleClose = reused && !abort.aborted && (code === "ECONNRESET" || code === "EPIPE");
        if (attempt > 0 || !idleClose) throw error;
      }
    }
  }

  private exchange(connection: EndpointConnection, head: Buffer, body: Buffer, abort: JobAbort): Promise<HttpReply> {
    return new Promise((resolve, reject) => {
      connection.exchange = {
        reader: new ReplyReader(MAX_REPLY_BYTES),
        settle: (result) => {
          abort.onAbort(undefined);
          if ("reply" in result) {
            connection.reused = true;
            this.release(connection);
            resolve(result.reply);
          } else reject(result.error);
        },
      };
      const { socket } = connection;
      abort.onAbort(() => socket.destroy());
      socket.ref();
      socket.cork();
      socket.write(head);
      socket.write(body);
      socket.uncork();
      // Written as the connection is made (Node sends what was written before then): Nagle off after it.
      if (socket.connecting && !(socket instanceof tls.TLSSocket))
        socket.once("connect", () => socket.setNoDelay(true));
    });
  }

  /** An idle connection (the one freed last, unless `fresh`), a new one below the limit, or the next one freed. */
  private async take(fresh: boolean, abort: JobAbort): Promise<EndpointConnection> {
    for (;;) {
      if (this.closed) throw new Error("the endpoint client is closed");
      if (abort.aborted) throw abort.reason!;
      if (!fresh) {
        const idle = this.idle.pop();
        if (idle) return idle;
      }
      if (this.all.size < Math.max(1, this.sockets)) {
        const connection = new EndpointConnection(this.url, (gone) => this.forget(gone));
        this.all.add(connection);
        return connection;
      }
      if (fresh && this.idle.length > 0) {
        this.idle[0].discard(); // room for the fresh one
        continue;
      }
      // Every connection busy (only after a shrink: a pool has as many as slots): wait for one, or for the abort.
      await new Promise<void>((wake) => {
        this.waiting.push(wake);
        abort.onAbort(() => {
          this.waiting.splice(this.waiting.indexOf(wake), 1);
          wake();
        });
      });
      abort.onAbort(undefined);
    }
  }

  private release(connection: EndpointConnection): void {
    if (connection.closed || this.closed) return;
    if (this.all.size > Math.max(1, this.sockets)) return connection.discard();
    if (!connection.probing) {
      connection.probing = true;
      connection.socket.setKeepAlive(true, 1000);
    }
    connection.socket.unref();
    this.idle.push(connection);
    this.waiting.shift()?.();
  }

  /** `connection` is closed or closing: it no longer counts against the limit, and a request waiting for room goes. */
  private forget(connection: EndpointConnection): void {
    if (!this.all.delete(connection)) return;
    const at = this.idle.indexOf(connection);
    if (at >= 0) this.idle.splice(at, 1);
    this.waiting.shift()?.();
  }

  resize(sockets: number): void {
    this.sockets = sockets;
    while (this.all.size > Math.max(1, sockets) && this.idle.length > 0) this.idle[0].discard();
  }

  close(): void {
    this.closed = true;
    for (const connection of [...this.all]) connection.discard();
    for (const wake of this.waiting.splice(0)) wake();
  }
}
