/**
 * Payload files (lib/wire/payload-file.ts): on the local cluster MakePool() starts, chunks and results of
 * FILE_PAYLOAD_BYTES or more go through files in a private payload directory instead of through the job
 * server. Results exact and in order at every size around the threshold; the files of a completed attempt
 * kept for the next while maps run, and none left once no map runs, whether the map succeeded, threw,
 * timed out, was aborted or lost its node; the directory gone at close; a node without the directory (one
 * on another host) refusing such a chunk with an error naming it. The side path exists only on the local
 * cluster, whose job server is always the embedded one, so these tests run on that kind alone.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MakePool, PoolError, LocalCluster, type ClusterPool } from "../lib/index.js";
import { poolOnLocalCluster } from "../lib/make-pool.js";
import { NodeSupervisor } from "../lib/node/node-supervisor.js";
import v8 from "node:v8";
import {
  FILE_PAYLOAD_BYTES,
  readFileReference,
  readPayloadFile,
  referenceFrame,
  writeIntoPayloadFile,
} from "../lib/wire/payload-file.js";
import {
  Codec,
  HEADER,
  Kind,
  decodeChunkRequest,
  encodeChunkRequest,
  readChunkRequest,
} from "../lib/wire/chunk-codec.js";
import { estimateItemBytes } from "../lib/wire/item-bytes.js";
import { SplitPayload } from "../lib/wire/split-payload.js";
import { WireFormatError } from "../lib/wire/errors.js";
import { makePayloadDirectory, removeStalePayloadDirectories } from "../lib/pool/payload-directory.js";
import { PayloadFiles } from "../lib/pool/payload-files.js";
import { eventually } from "./support/gearman.js";

const DEADLINE_MS = 30_000;

/** The payload directory of a local cluster pool: the one whose `cluster` link names its private directory. */
function payloadDirectoryOf(pool: ClusterPool): string {
  const server = pool.channels.cluster.jobServers[0];
  const privateDir = server.slice("unix:".length).replace(/\/jobs\.sock$/, "");
  const inPrivate = path.join(privateDir, "payloads");
  if (fs.existsSync(inPrivate)) return inPrivate;
  const found = fs
    .readdirSync("/dev/shm")
    .map((name) => path.join("/dev/shm", name))
    .find((dir) => {
      try {
        return fs.readlinkSync(path.join(dir, "cluster")) === privateDir;
      } catch {
        return false;
      }
    });
  assert.ok(found, `no payload directory for ${privateDir}`);
  return found;
}

/** The payload files in `dir` (the `cluster` link is none). */
const filesIn = (dir: string) => fs.readdirSync(dir).filter((name) => name !== "cluster");

const filled = (size: number, value: number) => new Uint8Array(size).fill(value);

describe("payload files on the local cluster", () => {
  let pool: ClusterPool;
  let dir: string;
  before(async () => {
    pool = await MakePool(undefined, { local: { workers: 1, threads: 2 } });
    dir = payloadDirectoryOf(pool);
  });
  after(async () => pool?.close());

  it("keeps them in a directory of this user's alone, in tmpfs when there is one", () => {
    const stat = fs.statSync(dir);
    assert.equal(stat.mode & 0o777, 0o700);
    assert.equal(stat.uid, process.getuid?.());
    if (fs.existsSync("/dev/shm")) assert.ok(dir.startsWith("/dev/shm/glimpse-payloads-"), dir);
  });

  it("large items and results cross through files, exact and in order, beside small ones that do not; none is left after", async () => {
    const sizes = [10, FILE_PAYLOAD_BYTES - 200, FILE_PAYLOAD_BYTES + 1, 1 << 20, 3_000_000, 0, 5];
    const items = sizes.map((size, i) => filled(size, i + 1));
    const seen = new Map<string, number>();
    const out = await pool.map(
      (a: Uint8Array) => {
        const b = new Uint8Array(a.length + 7).fill(a[0] ?? 0);
        b[b.length - 1] = 42;
        return [a, b];
      },
      items,
      {
        chunksize: 1,
        // As results arrive, the completed attempts' files wait in the directory for the next requests.
        onProgress: () => {
          for (const name of filesIn(dir))
            seen.set(name, Math.max(seen.get(name) ?? 0, fs.statSync(path.join(dir, name)).size));
        },
      },
    );
    assert.equal(out.length, items.length);
    out.forEach(([a, b], i) => {
      assert.deepEqual(a, items[i], `item ${i} came back whole`);
      assert.equal(b.length, sizes[i] + 7);
      assert.ok(b.subarray(0, -1).every((x) => x === (sizes[i] === 0 ? 0 : i + 1)) && b[b.length - 1] === 42);
    });
    const requests = [...seen].filter(([name]) => name.endsWith(".req"));
    const replies = [...seen].filter(([name]) => name.endsWith(".res"));
    assert.ok(requests.length > 0 && replies.length > 0, `files seen: ${JSON.stringify([...seen])}`);
    assert.ok(Math.max(...requests.map(([, size]) => size)) >= 1 << 20, "a megabyte request went through a file");
    assert.ok(Math.max(...replies.map(([, size]) => size)) >= 2 << 20, "a response of two megabytes did too");
    assert.deepEqual(filesIn(dir), [], "none is left once the map is over");
  });

  it("a map whose function throws, one past its timeout and an aborted one leave no file", async () => {
    const items = [1, 2, 3, 4].map((i) => filled(600_000, i));
    await assert.rejects(
      pool.map(
        (a: Uint8Array) => {
          if (a[0] === 3) throw new Error("three");
          return a;
        },
        items,
        { chunksize: 1 },
      ),
      /threw Error: three/,
    );
    assert.deepEqual(filesIn(dir), []);

    const timedOut = await pool
      .map((a: Uint8Array) => (a[0] === 2 ? new Promise(() => {}) : a), items, {
        chunksize: 1,
        timeout: 300,
        retries: 1,
      })
      .catch((e: unknown) => e);
    assert.ok(timedOut instanceof PoolError && timedOut.code === "CHUNK_TIMEOUT", String(timedOut));
    assert.deepEqual(filesIn(dir), []);

    const controller = new AbortController();
    const aborted = pool
      .map(() => new Promise(() => {}), items, { chunksize: 1, signal: controller.signal })
      .catch((e: unknown) => e);
    await eventually(() => filesIn(dir).some((name) => name.endsWith(".req")), DEADLINE_MS, "a request file");
    controller.abort(new Error("enough"));
    assert.match(String(await aborted), /enough|abort/i);
    assert.deepEqual(filesIn(dir), []);
    assert.deepEqual(
      (await pool.map((a: Uint8Array) => a.length, items, { chunksize: 1 })).map(Number),
      [600_000, 600_000, 600_000, 600_000],
      "the pool keeps serving",
    );
  });

  it("a node killed while it holds a large chunk: the chunk runs again, exact, and no file is left", async () => {
    const [node] = await pool.ping(DEADLINE_MS);
    const items = [0, 1, 2, 3].map((i) => ({ kill: i === 2 ? node.pid : 0, bytes: filled(1 << 20, i + 10) }));
    const out = await pool.map(
      (item: { kill: number; bytes: Uint8Array }) => {
        if (item.kill === process.pid) process.kill(process.pid, "SIGKILL");
        return item.bytes;
      },
      items,
      { chunksize: 1, retries: 2 },
    );
    out.forEach((bytes, i) => assert.deepEqual(bytes, items[i].bytes));
    assert.deepEqual(filesIn(dir), []);
    const [restarted] = await pool.ping(DEADLINE_MS);
    assert.notEqual(restarted.pid, node.pid, "the node was killed (and started again by its supervisor)");
  });
});

describe("payload files and nodes that cannot see them", () => {
  it("a node without the payload directory (one on another host) fails the chunk naming it and its file; small chunks still run", async () => {
    const cluster = await LocalCluster.start({ workers: 1, threads: 1 });
    let foreign: NodeSupervisor | undefined;
    // The pool's own node is replaced by one started as on another host: no payload directory.
    cluster.startWorkers = async (commandUrl: string, logUrl: string) => {
      foreign = new NodeSupervisor(
        { jobServers: [cluster.jobServer], commandUrl, logUrl, threads: 1 },
        { log: () => {}, output: "ignore" },
      );
      await foreign.start();
    };
    const pool = await poolOnLocalCluster(cluster);
    try {
      const dir = cluster.payloadDirectory!;
      const error = await pool
        .map((a: Uint8Array) => a.length, [filled(1 << 20, 1)], { chunksize: 1, retries: 1 })
        .catch((e: unknown) => e);
      assert.ok(error instanceof PoolError && error.code === "CHUNK_FAILED", String(error));
      assert.match(error.message, /chunk 0 \(items 0\.\.0\) failed 2 times/);
      assert.match(error.message, /chunk 0 of map \S+ has its payload in a file on its pool's host/);
      assert.match(error.message, /p\d+-\d+\.req/, "names the file");
      assert.match(error.message, /has no payload directory/);
      assert.deepEqual(filesIn(dir), []);
      assert.deepEqual(await pool.map((a: Uint8Array) => a.length, [filled(1000, 1)]), [1000]);
    } finally {
      await pool.close();
      await foreign?.stop();
    }
  });

  it("closing the pool with large chunks in flight ends their map and removes the payload directory", async () => {
    const pool = await MakePool(undefined, { local: { workers: 1, threads: 1 } });
    const dir = payloadDirectoryOf(pool);
    const running = pool
      .map(() => new Promise(() => {}), [filled(1 << 20, 1), filled(1 << 20, 2)], { chunksize: 1 })
      .catch((e: unknown) => e);
    await eventually(() => filesIn(dir).some((name) => name.endsWith(".req")), DEADLINE_MS, "a request file");
    await pool.close();
    assert.ok((await running) instanceof Error, "the map ended");
    assert.equal(fs.existsSync(dir), false, `${dir} is removed`);
  });
});

describe("payload file references", () => {
  const request = encodeChunkRequest({
    fn: { kind: "source", source: "(x) => x", hash: "h", name: "f" } as never,
    items: [filled(1000, 7)],
    start: 0,
    mapId: "m",
    chunk: 3,
    memoryVersion: 0,
  });

  it("carry the payload's header and meta, and name a plain file, its size and the reply's file", () => {
    const ref = referenceFrame(request, "p1-1.req", "p1-1.res");
    assert.ok(ref.length < 200, `${ref.length} bytes`);
    assert.deepEqual(readFileReference(ref, Kind.Request, "test"), {
      file: "p1-1.req",
      size: request.length,
      reply: "p1-1.res",
    });
  });

  it("refuse a name with a directory part, a hidden one and a missing size, naming what", () => {
    for (const name of ["../x", "/etc/passwd", ".hidden", "a/b"]) {
      assert.throws(
        () => readFileReference(referenceFrame(request, name), Kind.Request, "chunk 3"),
        (e: unknown) =>
          e instanceof WireFormatError && /chunk 3: payload file reference lacks a plain file name/.test(e.message),
        name,
      );
    }
    assert.throws(
      () => readFileReference(referenceFrame(request, "ok", "../../x"), Kind.Request, "chunk 3"),
      /reply file that is no plain file name/,
    );
  });

  it("two pools on one payload directory make files of their own, and neither removes the other's", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-payloads-"));
    try {
      const large = encodeChunkRequest({
        fn: { kind: "source", source: "(x) => x", hash: "h", name: "f" } as never,
        items: [filled(FILE_PAYLOAD_BYTES, 7)],
        start: 0,
        mapId: "m",
        chunk: 1,
        memoryVersion: 0,
      });
      const [first, second] = [new PayloadFiles(dir), new PayloadFiles(dir)];
      first.mapStarted();
      second.mapStarted();
      const a = first.send(large, false);
      const b = second.send(large, false);
      assert.ok(a.files && b.files, "both requests went as files");
      assert.notEqual(a.files.request, b.files.request);
      const names = [a.files.request, a.files.reply, b.files.request, b.files.reply];
      assert.deepEqual(filesIn(dir).sort(), [...names].sort(), "each pool's files are there");
      assert.deepEqual(readFileReference(a.payload, Kind.Request, "first").file, a.files.request);
      second.mapEnded();
      assert.deepEqual(filesIn(dir).sort(), [a.files.request, a.files.reply].sort(), "the other pool's map runs on");
      first.mapEnded();
      assert.deepEqual(filesIn(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a payload directory in tmpfs links to its cluster's and goes once that is gone", () => {
    const tmpfs = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-tmpfs-"));
    const clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-cluster-"));
    try {
      const dir = makePayloadDirectory(clusterDir, tmpfs);
      assert.equal(path.dirname(dir), tmpfs);
      assert.deepEqual(removeStalePayloadDirectories(tmpfs), [], "its cluster is there");
      fs.rmSync(clusterDir, { recursive: true });
      assert.deepEqual(removeStalePayloadDirectories(tmpfs), [dir]);
      assert.equal(fs.existsSync(dir), false);
      const fallback = makePayloadDirectory(
        fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-cluster-")),
        "/nonexistent",
      );
      assert.equal(path.basename(fallback), "payloads");
      fs.rmSync(path.dirname(fallback), { recursive: true });
    } finally {
      fs.rmSync(tmpfs, { recursive: true, force: true });
      fs.rmSync(clusterDir, { recursive: true, force: true });
    }
  });
});

describe("payloads written from where their large arrays lie", () => {
  const fn = { kind: "source", source: "(x) => x", hash: "h", name: "f" } as never;
  const head = { fn, start: 0, mapId: "m", chunk: 2, memoryVersion: 0 };
  const request = (items: unknown[]) => encodeChunkRequest({ ...head, items });
  const inParts = (items: unknown[]) => encodeChunkRequest({ ...head, items }, Codec.V8, FILE_PAYLOAD_BYTES);
  const big = filled(FILE_PAYLOAD_BYTES, 3);

  it("are what the serializer writes (its one-byte strings around them), each large array a part of its own, not a copy", () => {
    const shared = { note: "referenced twice" };
    const floats = new Float64Array(40_000).fill(1.5);
    const bytes = Buffer.alloc(FILE_PAYLOAD_BYTES + 3, 9);
    const cases: { items: unknown[]; apart: ArrayBufferLike[] }[] = [
      { items: [big], apart: [big.buffer] },
      { items: [big, "text", shared, shared, [big, floats]], apart: [big.buffer, floats.buffer] },
      {
        items: [new DataView(big.buffer), bytes, new DataView(big.buffer, 1, FILE_PAYLOAD_BYTES - 1), 7n],
        apart: [big.buffer, bytes.buffer],
      },
      { items: [filled(10, 1), "small only", filled(FILE_PAYLOAD_BYTES - 1, 2)], apart: [] },
    ];
    for (const [i, { items, apart }] of cases.entries()) {
      const whole = request(items);
      const parts = inParts(items);
      if (apart.length === 0) {
        assert.ok(Buffer.isBuffer(parts) && parts.equals(whole), `case ${i}: one buffer, as ever`);
        continue;
      }
      assert.ok(parts instanceof SplitPayload, `case ${i} is in parts`);
      assert.equal(parts.length, whole.length);
      assert.ok(parts.join().equals(whole), `case ${i}: the same bytes`);
      for (const buffer of apart)
        assert.ok(
          parts.parts.some((part) => part.buffer === buffer),
          `case ${i}: a large array is a part over its own memory`,
        );
      const routing = (bytes: Uint8Array) => ({ ...readChunkRequest(bytes), bodyEnd: undefined });
      assert.deepEqual(routing(parts.head), routing(whole), `case ${i}: header and meta are in the first part`);
    }
    // After a large array V8 may pad a two-byte string otherwise (it counts from the release): a byte more or
    // less, which its deserializer skips; the values are the same.
    const odd = ["a", new Uint8Array(new ArrayBuffer(FILE_PAYLOAD_BYTES + 8), 3, FILE_PAYLOAD_BYTES + 1), "\u1234x"];
    const split = inParts(odd);
    assert.ok(split instanceof SplitPayload);
    assert.deepEqual(decodeChunkRequest(split.join()).items, odd);
  });

  it("go to their file whole, or inline joined when they are below the threshold", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-payloads-"));
    try {
      const parts = inParts([big, "after it"]);
      assert.ok(parts instanceof SplitPayload);
      const files = new PayloadFiles(dir);
      files.mapStarted();
      const sent = files.send(parts, false);
      assert.ok(sent.files, "went as a file");
      assert.ok(fs.readFileSync(path.join(dir, sent.files.request)).equals(parts.join()));
      assert.equal(readFileReference(sent.payload, Kind.Request, "test").size, parts.length);
      const higher = new PayloadFiles(dir, parts.length + 1);
      const inline = higher.send(parts, false);
      assert.equal(inline.files, undefined);
      assert.ok(inline.payload.equals(parts.join()));
      files.mapEnded();
      assert.deepEqual(filesIn(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a large array detached or resized after encoding is refused at the next send, never sent as other bytes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-payloads-"));
    try {
      const item = filled(FILE_PAYLOAD_BYTES, 4);
      const parts = inParts([item, "tail"]);
      assert.ok(parts instanceof SplitPayload);
      const files = new PayloadFiles(dir);
      files.mapStarted();
      const first = files.send(parts, false);
      assert.ok(first.files, "went as a file");
      files.done(first.files, true);
      // A retry sends the same parts again: the array, transferred meanwhile, is gone from under them.
      structuredClone(item.buffer, { transfer: [item.buffer as ArrayBuffer] });
      const refused = {
        name: "ItemChangedError",
        message:
          `a map item: a typed array of ${FILE_PAYLOAD_BYTES} bytes among the chunk's items now has 0 (detached, ` +
          "transferred or resized while its map ran); keep a map's items unchanged until the map resolves",
      };
      assert.throws(() => files.send(parts, false), refused);
      assert.throws(() => parts.join(), refused);
      files.mapEnded();
      assert.deepEqual(filesIn(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("size estimates count large arrays as the serializer would, without copying them", () => {
    const items = [filled(1 << 20, 1), { bytes: filled(300_000, 2) }, "x", [filled(20, 3)]];
    assert.equal(estimateItemBytes(items), Math.ceil(v8.serialize(items).length / items.length));
  });
});

describe("payload files as a node and a pool read and write them", () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-test-payloads-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("a reference claiming more bytes than its file holds is refused before a buffer that size is taken, naming the file", () => {
    fs.writeFileSync(path.join(dir, "p1-9.res"), Buffer.alloc(100));
    assert.throws(
      () => readPayloadFile(dir, { file: "p1-9.res", size: 2 ** 40 }, "response to chunk 4"),
      (e: unknown) =>
        e instanceof WireFormatError &&
        e.message ===
          `response to chunk 4: its payload file ${path.join(dir, "p1-9.res")} holds 100 bytes, the reference says ${2 ** 40}`,
    );
  });

  it("a node writes a reply only while the request file still holds the request it answers", () => {
    const fn = { kind: "source", source: "(x) => x", hash: "h", name: "f" } as never;
    const ask = (chunk: number) =>
      encodeChunkRequest({ fn, items: [filled(1000, chunk)], start: chunk, mapId: "m", chunk, memoryVersion: 0 });
    const mine = ask(2);
    const owner = { file: "p1-1.req", head: mine.subarray(0, HEADER + mine.readUInt32BE(8)) };
    const reply = Buffer.from("the reply");
    const replyFile = path.join(dir, "p1-1.res");
    fs.writeFileSync(path.join(dir, owner.file), mine);
    fs.writeFileSync(replyFile, "");
    assert.equal(writeIntoPayloadFile(dir, "p1-1.res", reply, owner), true);
    assert.equal(fs.readFileSync(replyFile, "utf8"), "the reply");

    // The pool gave the slot to chunk 5: a late answer to chunk 2 leaves its reply file alone.
    fs.writeFileSync(path.join(dir, owner.file), ask(5));
    fs.writeFileSync(replyFile, "");
    assert.equal(writeIntoPayloadFile(dir, "p1-1.res", reply, owner), false);
    assert.equal(fs.statSync(replyFile).size, 0);

    // The pool gave the attempt up and removed its files.
    fs.rmSync(path.join(dir, owner.file));
    fs.rmSync(replyFile);
    assert.equal(writeIntoPayloadFile(dir, "p1-1.res", reply, owner), false);
    assert.deepEqual(
      filesIn(dir).filter((name) => name.startsWith("p1-1")),
      [],
    );
  });
});
