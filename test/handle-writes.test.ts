/**
 * Writes straight to a socket's handle (lib/server/handle-writes.ts), over
 * real loopback TCP: order, what the kernel does not take at once, the
 * drain, a failed write, and the fallback where Node offers no such path.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { handleWriter } from "../lib/server/handle-writes.js";

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
});
