/**
 * A job handle is bytes the job server made up, handed back exactly. A
 * scripted job server (a raw socket) gives a handle holding bytes that are no
 * UTF-8 (0xE9, 0xFF) and checks, byte for byte, what our client, worker and
 * admin client send back; our own JobServer takes them back as it gave them.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { GearmanClient, GearmanWorker, AdminClient } from "../lib/gearman/index.js";
import { JobServer } from "../lib/server/index.js";
import { JobHandles } from "../lib/server/job-handles.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";
import { decodeArgs, encodePacket, encodeRaw, type Packet } from "../lib/gearman/packet.js";
import { PacketType } from "../lib/gearman/packet-types.js";
import { jsonBody, multipartBody } from "../lib/serve/endpoint-request.js";

/** "H:\xE9\xFF:7": gearmand's shape, with two bytes that no UTF-8 decoder gives back. */
const HANDLE = Buffer.concat([Buffer.from("H:"), Buffer.from([0xe9, 0xff]), Buffer.from(":7")]);
/** The handle as the library gives it: a byte string, one char per byte. */
const HANDLE_TEXT = HANDLE.toString("latin1");

interface Seen {
  readonly packets: { type: number; body: Buffer }[];
  readonly lines: Buffer[];
  /** Resolves once what has been seen passes `check` (checked on every packet and line). */
  until(check: (seen: Seen) => boolean): Promise<void>;
}

/**
 * A job server that answers as `script` says: binary packets (copied) to
 * `onPacket`; a connection whose first byte is no NUL is an admin one, whose
 * lines (raw bytes) go to `onLine`.
 */
async function scriptedServer(script: {
  onPacket?: (packet: Packet, reply: (...packets: Buffer[]) => void) => void;
  onLine?: (line: Buffer, reply: (text: Buffer) => void) => void;
}): Promise<{ url: string; seen: Seen; close(): Promise<void> }> {
  const waiting: { check: (seen: Seen) => boolean; resolve: () => void }[] = [];
  const seen: Seen = {
    packets: [],
    lines: [],
    until: (check) => (check(seen) ? Promise.resolve() : new Promise((resolve) => waiting.push({ check, resolve }))),
  };
  const saw = () => {
    for (const w of [...waiting]) {
      if (!w.check(seen)) continue;
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    const reply = (...packets: Buffer[]) => void socket.write(Buffer.concat(packets));
    const decoder = new FrameDecoder({
      expect: "REQ",
      onPacket: (packet) => {
        seen.packets.push({ type: packet.type, body: Buffer.from(packet.body) });
        script.onPacket?.(packet, reply);
        saw();
      },
    });
    let text: Buffer | undefined;
    socket.on("data", (chunk: Buffer) => {
      if (text === undefined && (chunk[0] === 0 || script.onLine === undefined)) return decoder.push(chunk);
      text = Buffer.concat([text ?? Buffer.alloc(0), chunk]);
      let nl: number;
      while ((nl = text.indexOf(0x0a)) >= 0) {
        const line = text.subarray(0, nl);
        text = text.subarray(nl + 1);
        seen.lines.push(Buffer.from(line));
        script.onLine!(line, (bytes) => void socket.write(bytes));
        saw();
      }
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const res = (type: number, ...parts: (Buffer | string | number)[]) => encodeRaw("RES", type, parts);
const handleOf = (body: Buffer) => body.subarray(0, body.indexOf(0) < 0 ? body.length : body.indexOf(0));

describe("a job handle is bytes, handed back as they came", () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  });

  it("packets: a handle argument is encoded and decoded as its bytes", () => {
    const packet = encodePacket("REQ", "GET_STATUS", { handle: HANDLE_TEXT });
    assert.deepEqual(packet.subarray(12), HANDLE);
    const status = decodeArgs("STATUS_RES", Buffer.concat([HANDLE, Buffer.from("\x001\x000\x001\x002")]));
    assert.equal(status.handle, HANDLE_TEXT);
  });

  it("client: WORK_* packets reach the job, GET_STATUS and cancel job send the handle's bytes", async () => {
    const server = await scriptedServer({
      onPacket: (packet, reply) => {
        if (packet.type === PacketType.SUBMIT_JOB) {
          const data = decodeArgs("SUBMIT_JOB", packet.body).data.toString();
          if (data === "hang") return reply(res(PacketType.JOB_CREATED, HANDLE));
          reply(
            res(PacketType.JOB_CREATED, HANDLE),
            res(PacketType.WORK_STATUS, HANDLE, 1, 2),
            res(PacketType.WORK_DATA, HANDLE, Buffer.from("part")),
            res(PacketType.WORK_COMPLETE, HANDLE, Buffer.from(`done ${data}`)),
          );
        } else if (packet.type === PacketType.SUBMIT_JOB_BG) {
          reply(res(PacketType.JOB_CREATED, HANDLE));
        } else if (packet.type === PacketType.OPTION_REQ) {
          reply(res(PacketType.OPTION_RES, packet.body));
        } else if (packet.type === PacketType.GET_STATUS) {
          reply(res(PacketType.STATUS_RES, packet.body, 1, 1, 3, 4));
        }
      },
      onLine: (_line, reply) => reply(Buffer.from("OK\n")),
    });
    closers.push(() => server.close());
    const client = new GearmanClient({ servers: server.url });
    closers.push(() => client.close());

    const job = client.submitJob("f", "x");
    const status = new Promise((resolve) => job.once("status", (n: number, d: number) => resolve([n, d])));
    const data = new Promise<Buffer>((resolve) => job.once("data", resolve));
    assert.equal((await job.result).toString(), "done x");
    assert.equal(job.handle, HANDLE_TEXT);
    assert.deepEqual(await status, [1, 2]);
    assert.equal((await data).toString(), "part");

    const handle = await client.submitBackground("f", "y");
    assert.equal(handle, HANDLE_TEXT);
    const known = await client.getStatus(handle);
    assert.deepEqual(
      { handle: known.handle, running: known.running, numerator: known.numerator },
      { handle: HANDLE_TEXT, running: true, numerator: 3 },
    );
    const asked = server.seen.packets.find((p) => p.type === PacketType.GET_STATUS)!;
    assert.deepEqual(asked.body, HANDLE);

    // A cancelled job is withdrawn from its server with the admin `cancel job HANDLE`.
    const hanging = client.submitJob("f", "hang");
    await new Promise((resolve) => hanging.once("created", resolve));
    hanging.cancel();
    await assert.rejects(hanging.result, { code: "ABORTED" });
    await server.seen.until((seen) => seen.lines.length > 0);
    assert.deepEqual(server.seen.lines[0], Buffer.concat([Buffer.from("cancel job "), HANDLE]));
  });

  it("admin client: show jobs gives the handle, cancel job sends its bytes", async () => {
    const server = await scriptedServer({
      onLine: (line, reply) =>
        reply(
          line.toString() === "show jobs"
            ? Buffer.concat([HANDLE, Buffer.from("\t0\t0\t1\n.\n")])
            : Buffer.from("OK\n"),
        ),
    });
    closers.push(() => server.close());
    const admin = new AdminClient(server.url);
    closers.push(() => admin.close());
    const [shown] = await admin.showJobs();
    assert.equal(shown.handle, HANDLE_TEXT);
    await admin.cancelJob(shown.handle);
    assert.deepEqual(server.seen.lines[1], Buffer.concat([Buffer.from("cancel job "), HANDLE]));
  });

  it("worker: WORK_STATUS, WORK_DATA and WORK_COMPLETE carry the assigned handle's bytes", async () => {
    let assigned = false;
    const server = await scriptedServer({
      onPacket: (packet, reply) => {
        if (packet.type === PacketType.GRAB_JOB_UNIQ && !assigned) {
          assigned = true;
          reply(res(PacketType.JOB_ASSIGN_UNIQ, HANDLE, "f", "u1", Buffer.from("in")));
        } else if (packet.type === PacketType.GRAB_JOB_UNIQ) reply(res(PacketType.NO_JOB));
      },
    });
    closers.push(() => server.close());
    const worker = new GearmanWorker({ servers: server.url });
    closers.push(() => worker.close());
    const handles: string[] = [];
    worker
      .register("f", (job) => {
        handles.push(job.handle);
        job.sendStatus(1, 2);
        job.sendData("part");
        return "out";
      })
      .start();
    await server.seen.until((seen) => seen.packets.some((p) => p.type === PacketType.WORK_COMPLETE));
    assert.deepEqual(handles, [HANDLE_TEXT]);
    const replies: number[] = [PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_COMPLETE];
    const work = server.seen.packets.filter((p) => replies.includes(p.type));
    assert.deepEqual(
      work.map((p) => p.type),
      [PacketType.WORK_STATUS, PacketType.WORK_DATA, PacketType.WORK_COMPLETE],
    );
    for (const p of work) assert.deepEqual(handleOf(p.body), HANDLE);
  });

  it("serve: an HTTP endpoint gets the handle's bytes (multipart), or their text (JSON)", () => {
    const job = { func: "f", handle: HANDLE_TEXT, unique: "u", workload: Buffer.from("w") };
    const multipart = multipartBody(job, "BOUNDARY");
    assert.ok(
      multipart.includes(Buffer.concat([Buffer.from('name="job_handle"\r\n\r\n'), HANDLE, Buffer.from("\r\n")])),
    );
    const utf8Handle = Buffer.from("H:hôte:1").toString("latin1");
    assert.equal(JSON.parse(jsonBody({ ...job, handle: utf8Handle }).toString()).job_handle, "H:hôte:1");
    assert.equal(JSON.parse(jsonBody(job).toString()).job_handle, HANDLE_TEXT);
  });

  it("our job server takes a handle back as it gave it, whatever its prefix's bytes", async () => {
    const server = new JobServer({ host: "127.0.0.1", port: 0, handlePrefix: "hôte" });
    const { port } = await server.listen();
    closers.push(() => server.close());
    const url = `127.0.0.1:${port}`;
    const worker = new GearmanWorker({ servers: url });
    closers.push(() => worker.close());
    const seen: string[] = [];
    worker
      .register("f", (job) => {
        seen.push(job.handle);
        job.sendStatus(1, 1);
        return job.data;
      })
      .start();
    const client = new GearmanClient({ servers: url });
    closers.push(() => client.close());
    const job = client.submitJob("f", "x");
    assert.equal((await job.result).toString(), "x");
    // The prefix's UTF-8 bytes, one char each, on both sides.
    const expected = `H:${Buffer.from("hôte").toString("latin1")}:`;
    assert.ok(job.handle!.startsWith(expected), job.handle);
    assert.deepEqual(seen, [job.handle]);
    const handle = await client.submitBackground("g", "y");
    assert.ok(handle.startsWith(expected), handle);
    assert.equal((await client.getStatus(handle)).known, true);
    const admin = new AdminClient(url);
    closers.push(() => admin.close());
    assert.deepEqual(
      (await admin.showJobs()).map((j) => j.handle),
      [handle],
    );
    await admin.cancelJob(handle);
    assert.equal((await client.getStatus(handle)).known, false);
  });

  it("our job server reads a handle where it lies in a packet as it reads the same handle as a string", () => {
    const handles = new JobHandles("hôte");
    const head = `H:${Buffer.from("hôte").toString("latin1")}:`;
    const cases = [
      handles.of(7),
      handles.of(1234567890123),
      `${head}0`,
      `${head}07`,
      `${head}`,
      `${head}12a`,
      `${head}${"9".repeat(17)}`,
      "H:hote:7",
      `H:${Buffer.from("hôtf").toString("latin1")}:7`,
      "",
    ];
    for (const handle of cases) {
      // Inside a packet body: the handle, then a NUL and the result.
      const body = Buffer.concat([Buffer.from("xx"), Buffer.from(handle, "latin1"), Buffer.from("\0result")]);
      assert.equal(handles.idIn(body, 2, 2 + handle.length), handles.id(handle), JSON.stringify(handle));
    }
    assert.equal(handles.idIn(Buffer.from(handles.of(7), "latin1"), 0, head.length + 1), 7);
  });
});
