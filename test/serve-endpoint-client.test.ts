/**
 * serve's HTTP/1.1 client (lib/serve/endpoint-client.ts) against a scripted
 * endpoint: a real TCP server on 127.0.0.1 that reads each request and
 * answers with exactly the bytes a test gives, to cover the replies Node's
 * own server never sends (chunk extensions, trailers, interim 1xx, bodies
 * that run until the close, idle closes, malformed replies).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { EndpointClient } from "../lib/serve/endpoint-client.js";
import { JobAbort } from "../lib/serve/executor.js";

interface Request {
  readonly head: string;
  readonly body: Buffer;
  readonly connection: number;
}

type Script = (request: Request, socket: net.Socket) => void;

/** A TCP endpoint answering each request with `script`; counts connections. */
class ScriptedEndpoint {
  readonly requests: Request[] = [];
  connections = 0;
  script: Script = (_request, socket) => socket.write(reply("ok"));
  private readonly server = net.createServer((socket) => {
    const connection = ++this.connections;
    let buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString("latin1");
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        const request = { head, body: buffer.subarray(end + 4, end + 4 + length), connection };
        buffer = buffer.subarray(end + 4 + length);
        this.requests.push(request);
        this.script(request, socket);
      }
    });
    socket.on("error", () => {});
  });
  url = "";

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/job.php?queue=a`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const reply = (body: string, extra = "") =>
  `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe("serve's endpoint client", () => {
  let endpoint: ScriptedEndpoint;
  before(async () => {
    endpoint = await new ScriptedEndpoint().listen();
  });
  after(async () => {
    await endpoint.close();
  });

  const withClient = async (run: (client: EndpointClient) => Promise<void>, uri = endpoint.url) => {
    const client = new EndpointClient(uri, 2);
    try {
      await run(client);
    } finally {
      client.close();
    }
  };
  const post = (client: EndpointClient, body = "form") =>
    client.post("multipart/form-data; boundary=b", Buffer.from(body), new JobAbort());

  it("sends the head and body a PHP endpoint reads, with Basic credentials from the URI, and keeps the connection for the next job", async () => {
    endpoint.script = (_request, socket) => socket.write(reply("first"));
    const from = endpoint.requests.length;
    const connectionsBefore = endpoint.connections;
    await withClient(
      async (client) => {
        assert.equal((await post(client, "a=1")).body.toString(), "first");
        assert.equal((await post(client, "a=2")).body.toString(), "first");
      },
      endpoint.url.replace("http://", "http://us%40er:p%3Ass@"),
    );
    const [one, two] = endpoint.requests.slice(from);
    assert.equal(endpoint.connections - connectionsBefore, 1);
    assert.equal(one.connection, two.connection);
    const lines = one.head.split("\r\n");
    assert.equal(lines[0], "POST /job.php?queue=a HTTP/1.1");
    assert.ok(lines.includes(`Host: ${new URL(endpoint.url).host}`), one.head);
    assert.ok(lines.includes(`Authorization: Basic ${Buffer.from("us@er:p:ss").toString("base64")}`), one.head);
    assert.ok(lines.includes("Content-Type: multipart/form-data; boundary=b"), one.head);
    assert.ok(lines.includes("Content-Length: 3"), one.head);
    assert.equal(one.body.toString(), "a=1");
    assert.equal(two.body.toString(), "a=2");
  });

  it("reads chunked replies (extensions, trailers, split across writes) and interim 1xx replies", async () => {
    endpoint.script = (_request, socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n");
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\n{"gea');
      socket.write('\r\n1c\r\nrman_ret":0,"response_string');
      socket.write('\r\nc\r\n":"chunked"}\r\n0\r\nX-Trailer: 1\r\n\r\n');
    };
    await withClient(async (client) => {
      for (let i = 0; i < 2; i++) {
        const got = await post(client);
        assert.equal(got.status, 200);
        assert.equal(got.body.toString(), '{"gearman_ret":0,"response_string":"chunked"}');
        assert.equal(got.keepAlive, true);
      }
    });
  });

  it("reads a body that runs until the endpoint closes, and opens a new connection after Connection: close", async () => {
    const connectionsBefore = endpoint.connections;
    endpoint.script = (request, socket) => {
      if (request.body.toString() === "until-close")
        socket.end("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\nall of it");
      else socket.write(reply("closing", "Connection: close\r\n"));
    };
    await withClient(async (client) => {
      assert.equal((await post(client, "until-close")).body.toString(), "all of it");
      const closing = await post(client, "close");
      assert.equal(closing.body.toString(), "closing");
      assert.equal(closing.keepAlive, false);
      assert.equal((await post(client, "close")).body.toString(), "closing");
    });
    assert.equal(endpoint.connections - connectionsBefore, 3);
  });

  it("frees a connection's place as its Connection: close reply ends, before the endpoint closes it", async () => {
    const kept: net.Socket[] = [];
    // The reply says close, but the endpoint leaves its side open: the client closes, and must not wait for that.
    endpoint.script = (_request, socket) => {
      kept.push(socket);
      socket.write(reply("closing", "Connection: close\r\n"));
    };
    const client = new EndpointClient(endpoint.url, 1);
    try {
      const first = await post(client, "one");
      assert.equal(first.keepAlive, false);
      assert.equal(client.open, 0, "no connection counts once the reply is in");
      const second = post(client, "two");
      assert.equal(client.open, 1, "the next request has its connection at once");
      assert.equal((await second).body.toString(), "closing");
    } finally {
      client.close();
      for (const socket of kept) socket.destroy();
    }
  });

  it("sends again, once, on a new connection when the endpoint closed a kept one while it was idle", async () => {
    // The second request on a connection finds it closed (the endpoint's keep-alive timeout, just as the request left).
    endpoint.script = (request, socket) => {
      if (endpoint.requests.filter((r) => r.connection === request.connection).length > 1) socket.destroy();
      else socket.write(reply("kept"));
    };
    const connectionsBefore = endpoint.connections;
    await withClient(async (client) => {
      assert.equal((await post(client)).body.toString(), "kept");
      assert.equal((await post(client)).body.toString(), "kept");
    });
    assert.equal(endpoint.connections - connectionsBefore, 2);
  });

  it("fails a reply it cannot read, or one cut short, with a reason", async () => {
    const cases: [string, Script, RegExp][] = [
      [
        "not HTTP",
        (_r, socket) => socket.end("SSH-2.0-OpenSSH\r\n\r\n"),
        /not an HTTP\/1\.x reply: "SSH-2\.0-OpenSSH"/,
      ],
      [
        "a bad chunk size",
        (_r, socket) => socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        /a bad chunk size "zz"/,
      ],
      [
        "a Content-Length over the limit",
        (_r, socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n"),
        /the reply is larger than 67108864 bytes/,
      ],
      [
        "a body cut short",
        (_r, socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
        /the reply broke off: connection closed/,
      ],
      ["no reply at all", (_r, socket) => socket.destroy(), /ECONNRESET|socket hang up/],
    ];
    for (const [what, script, reason] of cases) {
      endpoint.script = script;
      await withClient(async (client) => {
        await assert.rejects(post(client), (error: Error & { code?: string }) => {
          assert.match(`${error.code ?? ""} ${error.message}`, reason, what);
          return true;
        });
      });
    }
  });

  it("queues a request while every connection is busy, and gives up waiting when it is aborted", async () => {
    const held: net.Socket[] = [];
    endpoint.script = (request, socket) =>
      request.body.toString() === "hold" ? held.push(socket) : socket.write(reply("queued"));
    const client = new EndpointClient(endpoint.url, 1);
    try {
      const first = client.post("text/plain", Buffer.from("hold"), new JobAbort());
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      const abort = new JobAbort();
      const waiting = client.post("text/plain", Buffer.from("never sent"), abort);
      const queued = post(client, "queued");
      abort.abort(new Error("past max_running_time"));
      await assert.rejects(waiting, /past max_running_time/);
      held[0].write(reply("held"));
      assert.equal((await first).body.toString(), "held");
      assert.equal((await queued).body.toString(), "queued");
      assert.ok(!endpoint.requests.some((r) => r.body.toString() === "never sent"));
    } finally {
      client.close();
    }
  });

  it("closes the connection of an aborted request and serves the next one", async () => {
    const held: net.Socket[] = [];
    endpoint.script = (request, socket) =>
      request.body.toString() === "hold" ? held.push(socket) : socket.write(reply("after"));
    await withClient(async (client) => {
      const abort = new JobAbort();
      const pending = client.post("text/plain", Buffer.from("hold"), abort);
      while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
      const closed = new Promise((resolve) => held[0].once("close", resolve));
      abort.abort(new Error("past max_running_time"));
      await assert.rejects(pending);
      await closed;
      assert.equal((await post(client)).body.toString(), "after");
    });
  });
});
