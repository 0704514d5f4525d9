/**
 * The library's messages a first week of use meets, each pinned to its
 * text: class instances in items, a module file named as a package, and a
 * pool whose broker is down.
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { MakePool, ItemSerializationError, PoolError } from "../lib/index.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { freePort } from "./support/job-servers.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-messages-"));
after(() => rmSync(dir, { recursive: true, force: true }));

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  get norm(): number {
    return Math.hypot(this.x, this.y);
  }
}

const fn = { kind: "source", source: "(x) => x", hash: "h", name: "f" } as const;
const encode = (items: unknown[], start = 0) =>
  encodeChunkRequest({ mapId: "m", chunk: 0, start, memoryVersion: 0, fn, items });
const SUFFIX =
  " (items travel as data: primitives, plain objects, arrays, and the built-in Date, RegExp, Map, Set, Error, ArrayBuffer and typed arrays; no functions, symbols or instances of other classes)";
const ADVICE =
  ", which would arrive as a plain object, without its methods and getters; send its data (e.g. { ...value } or a toJSON()), and rebuild the instance in the function if it needs one";

describe("class instances in items", () => {
  it("are refused before sending, naming the item's index, where in it the instance is, and its class", () => {
    assert.throws(() => encode([{ a: 1 }, new Point(1, 2)], 40), {
      name: "ItemSerializationError",
      code: "BAD_ARGUMENT",
      index: 41,
      message: `map item 41: cannot be sent to the workers: it is an instance of class Point${ADVICE}${SUFFIX}`,
    });
    assert.throws(() => encode([{ shape: { points: [new Point(0, 0), new Point(1, 1)] } }]), {
      message: `map item 0: cannot be sent to the workers: its .shape.points[0] is an instance of class Point${ADVICE}${SUFFIX}`,
    });
    assert.throws(() => encode([new Map([["origin", new Point(0, 0)]])]), {
      message: `map item 0: cannot be sent to the workers: its .get("origin") is an instance of class Point${ADVICE}${SUFFIX}`,
    });
    // A cycle (walked again with a set of the objects seen) does not hide one.
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    cyclic.last = new Point(0, 0);
    assert.throws(() => encode([cyclic]), {
      message: `map item 0: cannot be sent to the workers: its .last is an instance of class Point${ADVICE}${SUFFIX}`,
    });
    class Table extends Map {}
    assert.throws(() => encode([[1, new Table()]]), {
      message: `map item 0: cannot be sent to the workers: its [1] is an instance of class Table${ADVICE}${SUFFIX}`,
    });
  });

  it("let plain data and the built-in types through, cycles included", () => {
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const items = [
      { a: 1, nested: [1, "two", null] },
      Object.create(null),
      new Date(0),
      /x/g,
      new Map([[1, { b: 2 }]]),
      new Set([new Uint8Array(2)]),
      Buffer.from("b"),
      new TypeError("t"),
      cyclic,
    ];
    assert.ok(encode(items).length > 0);
  });

  it("reject a pool's map with that error, before any chunk is sent", async () => {
    const pool = await MakePool(undefined, { local: { workers: 1, threads: 1 } });
    try {
      await assert.rejects(
        pool.map((p: { x: number }) => p.x, [{ x: 1 }, new Point(2, 3)], { chunksize: 1 }),
        (error: unknown) =>
          error instanceof ItemSerializationError && error.index === 1 && /class Point/.test(error.message),
      );
      const [node] = await pool.ping(5000);
      // The first item's chunk may have run; the refused one never reached a node.
      assert.ok(node.numRequests <= 1, `chunks run: ${node.numRequests}`);
    } finally {
      await pool.close();
    }
  });
});

describe("moduleFunction with a file name for a package name", () => {
  it("names the file beside the caller and the specifier that works", async () => {
    const project = mkdtempSync(path.join(dir, "project-"));
    writeFileSync(path.join(project, "tasks.mjs"), "export const score = (x) => x * 2;\n");
    const index = new URL("../lib/index.js", import.meta.url).href;
    const caller = path.join(project, "main.mjs");
    writeFileSync(
      caller,
      [
        `import { moduleFunction } from ${JSON.stringify(index)};`,
        `moduleFunction("no-such-file.mjs", "score"); // nothing beside: a package, as Node takes it`,
        `try { moduleFunction("tasks.mjs", "score"); } catch (error) { console.log(error.message); }`,
      ].join("\n"),
    );
    const { stdout } = await promisify(execFile)(process.execPath, [caller]);
    assert.equal(
      stdout,
      `moduleFunction specifier: "tasks.mjs" is a package name to Node, and no package of that name exists; the file ${path.join(project, "tasks.mjs")} is beside ${caller}: reference it as new URL("./tasks.mjs", import.meta.url)\n`,
    );
  });
});

describe("a pool whose broker is down", () => {
  it("ping, setMemory and drain say the channel endpoints could not be reached", async () => {
    const urls = {
      command_frontend_url: `tcp://127.0.0.1:${await freePort()}`,
      command_backend_url: `tcp://127.0.0.1:${await freePort()}`,
      log_frontend_url: `tcp://127.0.0.1:${await freePort()}`,
      log_backend_url: `tcp://127.0.0.1:${await freePort()}`,
    };
    // No job server is asked: the channels are checked first.
    const pool = await MakePool({ client: { job_server_url: `127.0.0.1:${await freePort()}`, ...urls } });
    try {
      const said = `could not reach the command channel at ${urls.command_frontend_url} or the log channel at ${urls.log_backend_url}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)`;
      const [ping, memory, drain] = await Promise.allSettled([
        pool.ping(),
        pool.setMemory({ factor: 3 }),
        pool.drain({ all: true }),
      ]);
      for (const [outcome, command] of [
        [ping, "ping"],
        [memory, "set-memory"],
        [drain, "drain"],
      ] as const) {
        assert.equal(outcome.status, "rejected", command);
        const error = (outcome as PromiseRejectedResult).reason as PoolError;
        assert.ok(error instanceof PoolError, command);
        assert.equal(error.code, "CHANNEL_UNREACHABLE");
        assert.equal(error.message, `${command}: ${said}`);
      }
      assert.equal(pool.channels.memory.version, 0, "a setMemory that reached no one left the memory as it was");
    } finally {
      await pool.close();
    }
  });
});
