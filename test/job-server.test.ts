/**
 * What only the embedded job server has, or must survive: bad peers, limits,
 * the journal across kill -9, fuzzing, epoch jobs, admin extras.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync, statSync, existsSync } from "node:fs";
import { JobServer } from "../lib/server/index.js";
import { GearmanClient, GearmanWorker, AdminClient, PacketType } from "../lib/gearman/index.js";
import { encodeRaw, encodePacket, type Packet } from "../lib/gearman/packet.js";
import { parseAddress, formatAddress } from "../lib/gearman/address.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";
import { embedded } from "./support/job-servers.js";
import { eventually } from "./support/gearman.js";

/** A raw connection that collects the packets the server sends. */
async function rawPeer(port: number): Promise<{ socket: net.Socket; packets: Packet[]; closed: Promise<void> }> {
  const socket = net.connect({ host: "127.0.0.1", port });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  await new Promise<void>((resolve) => {
    socket.once("connect", resolve);
    void closed.then(resolve);
  });
  const packets: Packet[] = [];
  const decoder = new FrameDecoder({
    expect: "RES",
    onPacket: (p) => packets.push(new (p.constructor as typeof Packet)(p.magic, p.type, Buffer.from(p.body))),
  });
  socket.on("data", (chunk) => decoder.push(chunk));
  return { socket, packets, closed };
}

async function withServer(
  options: ConstructorParameters<typeof JobServer>[0],
  body: (server: JobServer, url: string) => Promise<void>,
): Promise<void> {
  const server = new JobServer({ port: 0, ...options });
  const { port } = await server.listen();
  try {
    await body(server, `127.0.0.1:${port}`);
  } finally {
    await server.close();
  }
}

async function echoWorkerAndClient(
  url: string,
): Promise<{ client: GearmanClient; worker: GearmanWorker; close: () => Promise<void> }> {
  const worker = new GearmanWorker({ servers: url, concurrency: 2 });
  worker.register("echo", (job) => job.data).start();
  const client = new GearmanClient({ servers: url });
  return { client, worker, close: async () => void (await Promise.all([client.close(), worker.close()])) };
}

describe("embedded job server", () => {
  it("answers a malformed packet with ERROR and closes only that connection", async () => {
    await withServer({}, async (server, url) => {
      const { client, close } = await echoWorkerAndClient(url);
      try {
        assert.equal((await client.submitJob("echo", "before").result).toString(), "before");
        const bad = await rawPeer(server.address!.port);
        bad.socket.write(Buffer.from("\0REQ\0\0\0\x63\0\0\0\x01x")); // type 99 does not exist
        await bad.closed;
        assert.equal(bad.packets[0]?.type, PacketType.ERROR);
        assert.match(bad.packets[0].body.toString(), /unexpected packet/);
        const oversize = await rawPeer(server.address!.port);
        oversize.socket.write(Buffer.from("\0REQ\0\0\0\x07\x7f\0\0\0"));
        await oversize.closed;
        assert.match(oversize.packets[0].body.toString(), /PACKET_TOO_LARGE/);
        const short = await rawPeer(server.address!.port);
        const shortPort = short.socket.localPort;
        short.socket.write(encodeRaw("REQ", PacketType.SUBMIT_JOB, ["echo"])); // no unique, no data
        await short.closed;
        assert.deepEqual(short.packets[0].body.toString().split("\0"), [
          "PROTOCOL_ERROR",
          `127.0.0.1:${shortPort}: SUBMIT_JOB needs 3 arguments (function, unique, data)`,
        ]);
        // Decoded before the job is looked up: refused whether or not the handle names a job.
        const status = await rawPeer(server.address!.port);
        status.socket.write(encodeRaw("REQ", PacketType.WORK_STATUS, ["H:nowhere:1"])); // no numerator, no denominator
        await status.closed;
        assert.match(status.packets[0].body.toString(), /^PROTOCOL_ERROR\0WORK_STATUS needs 3 arguments/);
        assert.equal((await client.submitJob("echo", "after").result).toString(), "after");
      } finally {
        await close();
      }
    });
  });

  it("limits packet size, connections and queued jobs with clear errors", async () => {
    await withServer({ maxPacketSize: 1024, maxQueue: 2, maxConnections: 3 }, async (server, url) => {
      const client = new GearmanClient({ servers: url, reconnect: false, maxFailovers: 0 });
      try {
        await client.submitBackground("q", "1");
        await client.submitBackground("q", "2");
        await assert.rejects(client.submitBackground("q", "3"), /QUEUE_ERROR/);
        await assert.rejects(
          client.submitJob("q", Buffer.alloc(2000)).result,
          /lost its job server|PACKET_TOO_LARGE|closed/,
        );
        const peers = [];
        for (let i = 0; i < 4; i++) peers.push(await rawPeer(server.address!.port));
        // Four connections with a limit of three: the server refuses at least one, saying why.
        await Promise.race(peers.map((p) => p.closed));
        const refused = peers.find((p) => p.packets.length > 0)!;
        assert.match(refused.packets[0].body.toString(), /TOO_MANY_CONNECTIONS/);
        for (const p of peers) p.socket.destroy();
      } finally {
        await client.close();
      }
    });
  });

  it("drops a client that never reads instead of buffering without bound", async () => {
    await withServer({ writeLimit: 256 * 1024, writeHighWater: 16 * 1024 }, async (server, url) => {
      const worker = new GearmanWorker({ servers: url, concurrency: 4 });
      worker.register("big", () => Buffer.alloc(64 * 1024, 1)).start();
      const slow = await rawPeer(server.address!.port);
      // Named, so that admin `workers` shows whether the server still has it (the echo says the name arrived).
      slow.socket.write(
        Buffer.concat([
          encodePacket("REQ", "SET_CLIENT_ID", { id: "slow-reader" }),
          encodeRaw("REQ", PacketType.ECHO_REQ, ["named"]),
        ]),
      );
      await eventually(() => slow.packets.some((p) => p.type === PacketType.ECHO_RES), 5000, "the slow client's echo");
      slow.socket.pause(); // never reads
      for (let i = 0; i < 200; i++)
        slow.socket.write(encodePacket("REQ", "SUBMIT_JOB", { func: "big", unique: "", data: "" }));
      const admin = new AdminClient(url);
      try {
        // A paused socket never notices its end, so ask the server (admin `workers` lists every connection) whether it still has it.
        await eventually(
          async () => !(await admin.workers()).some((w) => w.clientId === "slow-reader"),
          10_000,
          "the slow client to be dropped",
        );
        const client = new GearmanClient({ servers: url });
        assert.equal((await client.submitJob("big", "").result).length, 64 * 1024);
        await client.close();
      } finally {
        slow.socket.destroy();
        await admin.close();
        await worker.close();
      }
    });
  });

  it("serves a client in its own process over an in-process socket as it serves TCP ones", async () => {
    await withServer({ writeLimit: 256 * 1024, writeHighWater: 16 * 1024 }, async (server, url) => {
      const worker = new GearmanWorker({ servers: url, concurrency: 2 });
      worker
        .register("echo", (job) => job.data)
        .register("big", () => Buffer.alloc(64 * 1024, 1))
        .start();
      const client = new GearmanClient({ servers: url, open: () => server.connectInProcess(), reconnect: false });
      const admin = new AdminClient(url);
      try {
        // Sizes on both sides of where the server keeps payloads as bytes and writes them as their own segments.
        const sizes = [
          0,
          1,
          4095,
          4096,
          16_383,
          16_384,
          16_385,
          1_000_000,
          ...Array.from({ length: 32 }, (_, i) => 10_000 + i * 1000),
        ];
        const payloads = sizes.map((size, i) => Buffer.alloc(size, i + 1));
        const echoed = await Promise.all(payloads.map((p) => client.submitJob("echo", p).result));
        assert.ok(echoed.every((e, i) => e.equals(payloads[i])));
        assert.ok(
          (await admin.workers()).some((w) => w.ip === "in-process"),
          "admin workers lists the in-process peer",
        );

        // A reader that never reads is dropped as a TCP one is, once the server holds writeLimit bytes for it.
        const stalled = server.connectInProcess();
        stalled.pause();
        for (let i = 0; i < 200; i++)
          stalled.write(encodePacket("REQ", "SUBMIT_JOB", { func: "big", unique: "", data: "" }));
        await eventually(() => stalled.destroyed, 10_000, "the stalled in-process reader to be dropped");
        assert.equal((await client.submitJob("big", "").result).length, 64 * 1024);
      } finally {
        await admin.close();
        await worker.close();
      }
      // The server closing ends the in-process connection too.
      const lost = new Promise((resolve) => client.once("disconnect", resolve));
      await server.close();
      await lost;
      assert.deepEqual(client.connectedServers, []);
      await client.close();
    });
  });

  it("reads TCP connections into one reused buffer without losing a byte: queued payloads of every size outlive later reads", async () => {
    await withServer({}, async (_server, url) => {
      const client = new GearmanClient({ servers: url });
      const worker = new GearmanWorker({ servers: url, concurrency: 3 });
      const admin = new AdminClient(url);
      try {
        // Kept as bytes from 4096 on; a view of a read that fills half of it or more would be kept as it lies.
        const sizes = [0, 1, 4083, 4084, 4095, 4096, 16_383, 16_384, 33_000, 40_000, 50_000, 60_000, 65_000, 70_000];
        sizes.push(1_000_000, 3_000_000, ...Array.from({ length: 20 }, (_, i) => 32_768 + i * 1500));
        const payloads = [...sizes, ...Array.from({ length: 200 }, (_, i) => (i * 7919) % 30_000)].map((size, i) =>
          Buffer.alloc(size, (i % 250) + 1),
        );
        // Queued while no worker is there: every later read overwrites the buffer their packets arrived in.
        const results = payloads.map((p) => client.submitJob("echo", p).result);
        await eventually(
          async () => (await admin.status()).find((f) => f.func === "echo")?.total === payloads.length,
          30_000,
          "every job to be queued",
        );
        worker.register("echo", (job) => job.data).start();
        const echoed = await Promise.all(results);
        echoed.forEach((e, i) =>
          assert.ok(e.equals(payloads[i]), `payload ${i} (${payloads[i].length} bytes) came back whole`),
        );
      } finally {
        await Promise.all([client.close(), worker.close(), admin.close()]);
      }
    });
  });

  it("stops reading a client that does not keep up with its results, and reads it again once it caught up", async () => {
    await withServer({ writeHighWater: 16 * 1024 }, async (server, url) => {
      const size = 64 * 1024;
      const worker = new GearmanWorker({ servers: url, concurrency: 4 });
      let ran = 0;
      worker
        .register("big", (job) => {
          ran++;
          return Buffer.alloc(size, job.data.length);
        })
        .start();
      const slow = await rawPeer(server.address!.port);
      const admin = new AdminClient(url);
      try {
        slow.socket.pause();
        // 25 MB of results: more than loopback's socket buffers take, so the server holds the rest for this client.
        const jobs = 400;
        for (let i = 0; i < jobs; i++)
          slow.socket.write(encodePacket("REQ", "SUBMIT_JOB", { func: "big", unique: "", data: "x" }));
        // Every job run (not merely none queued, which is also so before the server read them), its result written.
        await eventually(
          async () => ran === jobs && (await admin.status()).find((f) => f.func === "big")?.total === 0,
          60_000,
          "every job to be done",
        );
        // Read while that much waits for this client: the server stops reading it until it has caught up.
        slow.socket.write(encodePacket("REQ", "SUBMIT_JOB", { func: "big", unique: "", data: "xy" }));
        slow.socket.resume();
        const done = (n: number) => slow.packets.filter((p) => p.type === PacketType.WORK_COMPLETE).length >= n;
        await eventually(() => done(jobs + 1), 60_000, "every result, the late job's too");
        // Read again: a job submitted now is answered.
        slow.socket.write(encodePacket("REQ", "SUBMIT_JOB", { func: "big", unique: "", data: "xyz" }));
        await eventually(() => done(jobs + 2), 60_000, "the result of a job submitted after catching up");
        const results = slow.packets.filter((p) => p.type === PacketType.WORK_COMPLETE);
        const lengths = results.map((p) => p.body.length - p.body.indexOf(0) - 1);
        assert.ok(
          lengths.every((n) => n === size),
          "every result whole",
        );
        const fills = results.map((p) => p.body[p.body.length - 1]);
        assert.deepEqual(fills.slice(-2), [2, 3], "the late jobs' results last, in order");
      } finally {
        slow.socket.destroy();
        await admin.close();
        await worker.close();
      }
    });
  });

  it("listens on a Unix socket that clients, workers and admin reach as unix:PATH, and removes it when it closes", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-unix-"));
    const socketPath = path.join(dir, "jobs.sock");
    const server = new JobServer({ path: socketPath });
    try {
      assert.deepEqual(await server.listen(), { host: "localhost", port: 0, path: socketPath });
      assert.ok(statSync(socketPath).isSocket());
      const url = `unix:${socketPath}`;
      const worker = new GearmanWorker({ servers: url, concurrency: 2 });
      worker.register("echo", (job) => job.data).start();
      const client = new GearmanClient({ servers: [url] });
      const admin = new AdminClient(url);
      try {
        const payloads = [0, 10, 100_000].map((size, i) => Buffer.alloc(size, i + 1));
        const echoed = await Promise.all(payloads.map((p) => client.submitJob("echo", p).result));
        assert.ok(echoed.every((e, i) => e.equals(payloads[i])));
        // A Unix socket peer has no IP address: admin `workers` shows "local", as the status table shows the function.
        assert.ok(
          (await admin.workers()).some((w) => w.ip === "local" && w.functions.includes("echo")),
          "admin workers lists the worker as local",
        );
        assert.ok((await admin.status()).some((s) => s.func === "echo" && s.workers === 1));
      } finally {
        await Promise.all([client.close(), admin.close(), worker.close()]);
      }
      await server.close();
      assert.equal(existsSync(socketPath), false, "the socket file is gone after close");
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a relative Unix socket path, in its options and in an address, naming it", () => {
    assert.throws(() => new JobServer({ path: "jobs.sock" }), /JobServer option path: expected an absolute path/);
    assert.throws(
      () => new GearmanClient({ servers: "unix:jobs.sock" }),
      /"unix:jobs\.sock": a Unix socket address needs an absolute path/,
    );
    assert.throws(
      () => new GearmanClient({ servers: ["127.0.0.1:4730", "unix:rel/jobs.sock"] }),
      /a Unix socket address needs an absolute path/,
    );
    assert.deepEqual(parseAddress("unix:/run/glimpse/jobs.sock"), {
      host: "localhost",
      port: 0,
      path: "/run/glimpse/jobs.sock",
    });
    assert.equal(formatAddress(parseAddress(" unix:/run/glimpse/jobs.sock ")), "unix:/run/glimpse/jobs.sock");
    assert.equal(formatAddress(parseAddress("gearman://[::1]:4731")), "[::1]:4731");
  });

  it("keeps accepted background jobs across kill -9 with its queue file", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-journal-"));
    const queueFile = path.join(dir, "queue.journal");
    try {
      let server = await embedded.start({ jobRetries: 0, extraArgs: ["--queue-file", queueFile] });
      const client = new GearmanClient({ servers: server.url, reconnect: false });
      const handles: string[] = [];
      for (let i = 0; i < 50; i++)
        handles.push(
          await client.submitBackground("durable", `job-${i}`, { unique: i % 10 === 0 ? `u${i}` : undefined }),
        );
      await client.close();
      // Run a few so that the journal also holds finished records.
      const early = new GearmanWorker({ servers: server.url, concurrency: 1 });
      const firstDone: string[] = [];
      early
        .register("durable", (job) => {
          firstDone.push(job.data.toString());
          return "";
        })
        .start();
      await eventually(() => firstDone.length >= 5, 10_000, "five jobs to run");
      await early.close();
      await server.kill();
      server = await server.restart();
      const seen = new Set<string>(firstDone);
      const worker = new GearmanWorker({ servers: server.url, concurrency: 4 });
      worker
        .register("durable", (job) => {
          seen.add(job.data.toString());
          return "";
        })
        .start();
      try {
        await eventually(() => seen.size === 50, 10_000, "every accepted job to run after the restart");
        assert.equal(seen.size, 50);
      } finally {
        await worker.close();
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs SUBMIT_JOB_EPOCH jobs when their time comes", async () => {
    await withServer({}, async (_server, url) => {
      const client = new GearmanClient({ servers: url });
      const seen: number[] = [];
      const worker = new GearmanWorker({ servers: url });
      worker
        .register("later", () => {
          seen.push(Date.now());
          return "";
        })
        .start();
      try {
        const submitted = Date.now();
        await client.submitBackground("later", "x", { epoch: Math.ceil(submitted / 1000) + 1 });
        await eventually(() => seen.length === 1, 5000, "the epoch job to run");
        assert.ok(seen[0] >= Math.ceil(submitted / 1000) * 1000, "ran before its epoch");
      } finally {
        await client.close();
        await worker.close();
      }
    });
  });

  it("has prioritystatus and a graceful shutdown admin command", async () => {
    await withServer({}, async (server, url) => {
      const client = new GearmanClient({ servers: url });
      await client.submitBackground("p", "1", { priority: "high" });
      await client.submitBackground("p", "2", { priority: "low" });
      await client.submitBackground("p", "3", { priority: "low" });
      const admin = new AdminClient(url);
      assert.deepEqual(await admin.command("prioritystatus"), ["p\t1\t0\t2\t0"]);
      const stopped = new Promise((resolve) => server.once("shutdown", resolve));
      assert.deepEqual(await admin.command("shutdown graceful"), ["OK"]);
      await stopped;
      await client.close();
      await admin.close();
    });
  });

  it("survives a seeded fuzz of random and mutated packets while normal work goes on", async () => {
    await withServer({ maxPacketSize: 64 * 1024 }, async (server, url) => {
      const { client, close } = await echoWorkerAndClient(url);
      let seed = 1234567;
      const random = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
      const valid = [
        encodePacket("REQ", "SUBMIT_JOB", { func: "echo", unique: "", data: "fuzz" }),
        encodePacket("REQ", "GRAB_JOB_UNIQ", {}),
        encodePacket("REQ", "CAN_DO", { func: "echo" }),
        encodePacket("REQ", "WORK_COMPLETE", { handle: "H:x:1", data: "?" }),
        encodePacket("REQ", "GET_STATUS_UNIQUE", { unique: "u" }),
        encodeRaw("REQ", PacketType.ECHO_REQ, ["e"]),
        Buffer.from("status\n"),
        Buffer.from("show jobs\n"),
        Buffer.from("maxqueue\n"),
      ];
      const mutate = (bytes: Buffer): Buffer => {
        const out = Buffer.from(bytes);
        for (let i = random(4); i >= 0; i--) out[random(out.length)] = random(256);
        return random(3) === 0 ? out.subarray(0, random(out.length + 1)) : out;
      };
      const fuzzers: Promise<void>[] = [];
      for (let c = 0; c < 20; c++) {
        fuzzers.push(
          (async () => {
            const peer = await rawPeer(server.address!.port);
            for (let i = 0; i < 50 && !peer.socket.destroyed; i++) {
              const pick = valid[random(valid.length)];
              const bytes =
                random(4) === 0
                  ? Buffer.from(Array.from({ length: random(40) }, () => random(256)))
                  : random(2) === 0
                    ? mutate(pick)
                    : pick;
              peer.socket.write(bytes);
            }
            peer.socket.end();
            await Promise.race([peer.closed, new Promise((resolve) => setTimeout(resolve, 2000))]);
            peer.socket.destroy();
          })(),
        );
      }
      const normal = Array.from({ length: 200 }, (_, i) => client.submitJob("echo", `n${i}`).result);
      await Promise.all(fuzzers);
      const results = await Promise.all(normal);
      assert.deepEqual(
        results.map(String),
        Array.from({ length: 200 }, (_, i) => `n${i}`),
      );
      assert.equal((await client.submitJob("echo", "still up").result).toString(), "still up");
      await close();
    });
  });
});
