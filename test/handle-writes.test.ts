/**
 * Writes straight to a socket's handle (lib/server/handle-writes.ts), over
 * real loopback TCP: order, what the kernel does not take at once, the
 * drain, a failed write, and the fallback where Node offers no such path
 * (a job server that writes through its sockets' Writables instead).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { spawn } from "node:child_process";
import { handleWriter } from "../lib/server/handle-writes.js";
import { GearmanClient, GearmanWorker } from "../lib/gearman/index.js";
import { CLI_PATH } from "./support/job-servers.js";

/** A connected pair: `sender` (the connecting end) and `receiver` (the accepted one, paused). */
async function pair(): Promise<{ sender: net.Socket; receiver: net.Socket; close: () => void }> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const sender = net.connect({ host: "127.0.0.1", port: (server.address() as net.AddressInfo).port });
  await new Promise<void>((resolve, reject) => sender.once("connect", resolve).once("error", reject));
  const receiver = await accepted;
  server.close();
  return {
    sender,
    receiver,
    close: () => {
      sender.destroy();
      receiver.destroy();
    },
  };
}

describe("writes straight to a socket's handle", () => {
  it("writes in order, queues what the kernel does not take at once, and says when that drained", async () => {
    const { sender, receiver, close } = await pair();
    try {
      const writer = handleWriter(sender);
      assert.ok(writer, "this Node offers the handle's write path");
      const chunk = 64 * 1024;
      const count = 400; // 25 MB: more than loopback's socket buffers hold while the receiver does not read
      let async = false;
      for (let i = 0; i < count; i++) {
        const bytes = Buffer.alloc(chunk, i % 251);
        if (i % 2 === 0) writer.write(bytes);
        else writer.writev([bytes.subarray(0, 1000), bytes.subarray(1000)]);
        if (!writer.tookAll) async = true;
      }
      assert.ok(async, "some write went asynchronous");
      assert.ok(writer.queued > 0, "bytes wait in libuv");
      const drained = new Promise<void>((resolve) => (writer.drained = resolve));
      const received: Buffer[] = [];
      let total = 0;
      const all = new Promise<void>((resolve) =>
        receiver.on("data", (data: Buffer) => {
          received.push(data);
          total += data.length;
          if (total === chunk * count) resolve();
        }),
      );
      receiver.resume();
      await Promise.all([drained, all]);
      assert.equal(writer.queued, 0);
      const bytes = Buffer.concat(received);
      for (let i = 0; i < count; i++) {
        const at = i * chunk;
        assert.ok(bytes[at] === i % 251 && bytes[at + chunk - 1] === i % 251, `chunk ${i} arrived in its place, whole`);
      }
    } finally {
      close();
    }
  });

  it("closes the socket with the error when a write fails", async () => {
    const { sender, receiver, close } = await pair();
    try {
      const writer = handleWriter(sender)!;
      const failed = new Promise<Error>((resolve) => sender.once("error", resolve));
      const gone = new Promise((resolve) => sender.once("close", resolve));
      receiver.resetAndDestroy();
      // The reset arrives at once on loopback; writes then fail (EPIPE or ECONNRESET), synchronously or not.
      for (let i = 0; i < 100 && !sender.destroyed; i++) {
        writer.write(Buffer.alloc(64 * 1024));
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.match((await failed).message, /^write E[A-Z]+/);
      await gone;
    } finally {
      close();
    }
  });

  it("is not offered where Node has no such path, nor for a socket without a handle", async () => {
    const { sender, close } = await pair();
    try {
      assert.equal(handleWriter(sender, null), undefined);
      sender.destroy();
      await new Promise((resolve) => sender.once("close", resolve));
      assert.equal(handleWriter(sender), undefined);
    } finally {
      close();
    }
  });

  it("is not used under --pending-deprecation: the server writes through its sockets, warns of nothing, and serves", async () => {
    const child = spawn(
      process.execPath,
      ["--pending-deprecation", CLI_PATH, "job-server", "--host", "127.0.0.1", "--port", "0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let client: GearmanClient | undefined;
    let worker: GearmanWorker | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const look = () => {
          const m = /listening on \S+?:(\d+)/.exec(stdout);
          if (m) resolve(Number(m[1]));
        };
        child.stdout.on("data", look);
        void exited.then((code) => reject(new Error(`the job server exited (${code}) before it listened:\n${stderr}`)));
      });
      const servers = `127.0.0.1:${port}`;
      worker = new GearmanWorker({ servers, concurrency: 2 });
      worker.register("echo", (job) => job.data).start();
      client = new GearmanClient({ servers });
      // Small payloads in the write arena, and large ones written from where they lie (writev through the Writable).
      const payloads = [1_000_000, 70_000, ...Array.from({ length: 200 }, (_, i) => i * 13)].map((size, i) =>
        Buffer.alloc(size, (i % 250) + 1),
      );
      const echoed = await Promise.all(payloads.map((p) => client!.submitJob("echo", p).result));
      echoed.forEach((e, i) => assert.ok(e.equals(payloads[i]), `payload ${i} came back whole`));
    } finally {
      await client?.close();
      await worker?.close();
      child.kill("SIGTERM");
      await exited;
    }
    assert.doesNotMatch(stderr, /DeprecationWarning|DEP0111/);
  });
});
