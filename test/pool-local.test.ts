/**
 * MakePool() with no configuration (a local cluster), and the pool options
 * that need their own cluster: cache_functions and per-chunk timeouts.
 */
import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";
import os from "node:os";
import { existsSync, statSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { MakePool, PoolError, ArgumentError, LocalCluster, loadConfig, type ClusterPool } from "../lib/index.js";
import { GearmanClient } from "../lib/gearman/index.js";
import { poolOnLocalCluster } from "../lib/make-pool.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { toFunctionRef } from "../lib/wire/function-ref.js";
import { CLI_PATH, embedded } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

describe("local cluster", () => {
  let pool: ClusterPool;
  before(async () => {
    pool = await MakePool(undefined, { local: { workers: 1, threads: 2 } });
  });
  after(async () => pool?.close());

  it("MakePool() with nothing runs a map on its own embedded server and worker processes", async () => {
    const items = Array.from({ length: 1000 }, (_, i) => i);
    assert.deepEqual(
      await pool.map((x: number) => x * x, items, { chunksize: "auto" }),
      items.map((x) => x * x),
    );
    const [node] = await pool.ping(5000);
    assert.equal(node.threads, 2);
    assert.notEqual(node.pid, process.pid);
  });

  it("numbers cross as raw bytes and come back exact and in order: NaN, -0, ±Infinity, integers past 2^31, typed arrays, mixed results", async () => {
    const odd = [NaN, -0, 0, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 - 1, 0.1, -1e-300, 5e-324];
    const items = Array.from({ length: 3000 }, (_, i) => odd[i % odd.length] ?? i);
    const same = (got: unknown[], want: unknown[], what: string) => {
      assert.equal(got.length, want.length, `${what}: length`);
      got.forEach((v, i) => assert.ok(Object.is(v, want[i]), `${what} ${i}: ${v} is ${want[i]}`));
    };
    const identity = await pool.map((x: number) => x, items, { chunksize: 700 });
    assert.ok(Array.isArray(identity));
    same(identity, items, "identity");
    const typed = new Float64Array(items);
    same(
      await pool.map((x: number) => x * 2, typed, { chunksize: 1000 }),
      items.map((x) => x * 2),
      "from a Float64Array",
    );
    const bytes = Uint8Array.from({ length: 500 }, (_, i) => i % 256);
    same(
      await pool.map((x: number) => -x, bytes, { chunksize: "auto" }),
      [...bytes].map((x) => -x),
      "from a Uint8Array",
    );
    // A chunk whose results turn from numbers to other values part-way, and one of strings that gives numbers.
    const mixed = (x: number) => (x % 7 === 3 ? `s${x}` : x + 1);
    const ints = Array.from({ length: 100 }, (_, i) => i);
    same(await pool.map(mixed, ints, { chunksize: 50 }), ints.map(mixed), "mixed results");
    const words = ints.map((i) => "w".repeat(i));
    same(await pool.map((s: string) => s.length, words, { chunksize: 30 }), ints, "lengths of strings");
  });

  it("a map that changes its large items in place leaves the caller's items as they were, and each result is its own", async () => {
    // 64 KB items travel as views of the bytes they arrived in on every side: none may be shared with the caller or another result.
    const items = Array.from({ length: 6 }, (_, i) => new Uint8Array(64 * 1024).fill(i + 1));
    const out = await pool.map((a: Uint8Array) => ((a[0] = 200), a.fill(99, 1, 10), a), items, { chunksize: 2 });
    items.forEach((item, i) =>
      assert.ok(
        item.every((b) => b === i + 1),
        `the caller's item ${i} is unchanged`,
      ),
    );
    out.forEach((result, i) => {
      assert.equal(result.length, 64 * 1024);
      assert.deepEqual(
        [result[0], result[9], result[10], result[result.length - 1]],
        [200, 99, i + 1, i + 1],
        `result ${i}`,
      );
    });
    out[0].fill(0);
    assert.deepEqual([out[1][0], out[1][10]], [200, 2], "results of one chunk share no bytes");
  });

  it("a chunk past its timeout is retried, then the map fails naming the chunk", async () => {
    const error = await pool
      .map(() => new Promise(() => {}), [1, 2, 3], { chunksize: 3, timeout: 200, retries: 1 })
      .then(
        () => assert.fail("should time out"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof PoolError, String(error));
    assert.equal(error.code, "CHUNK_TIMEOUT");
    assert.match(error.message, /chunk 0 \(items 0\.\.2\) did not finish within 200 ms, 2 times/);
    // The cluster still serves maps afterwards.
    assert.deepEqual(await pool.map((x: number) => -x, [1]), [-1]);
  });

  it("a poison chunk that kills its worker thread is retried max_retries times, then the map fails naming it; the cluster keeps serving", async () => {
    const error = await pool
      .map(
        (x: number) => (x === 5 ? process.exit(1) : x),
        Array.from({ length: 10 }, (_, i) => i),
        { chunksize: 2, retries: 2 },
      )
      .then(
        () => assert.fail("should fail"),
        (e: unknown) => e,
      );
    assert.ok(error instanceof PoolError, String(error));
    assert.equal(error.code, "CHUNK_FAILED");
    assert.match(error.message, /chunk 2 \(items 4\.\.5\) failed 3 times/);
    assert.deepEqual(await pool.map((x: number) => x * 3, [1, 2, 3]), [3, 6, 9]);
  });

  it("a bad argument or option is an ArgumentError naming it, and the pool keeps serving", async () => {
    const naming = (argument: string) => (e: unknown) =>
      e instanceof ArgumentError && e.code === "BAD_ARGUMENT" && e.argument === argument;
    await assert.rejects(
      pool.map((x: number) => x, [1], { chunksize: 0 }),
      naming("map option chunksize"),
    );
    await assert.rejects(
      pool.map((x: number) => x, [1], { chunkSize: 2 } as never),
      (e: unknown) => naming("map option chunkSize")(e) && /known: chunksize/.test((e as Error).message),
    );
    await assert.rejects(
      pool.map((x: number) => x, null as never),
      naming("map items"),
    );
    await assert.rejects(pool.map(42 as never, [1]), naming("map function"));
    await assert.rejects(pool.setMemory(null as never), naming("setMemory entries"));
    await assert.rejects(pool.ping(-1), naming("ping waitMs"));
    await assert.rejects(MakePool(undefined, { locl: {} } as never), naming("MakePool option locl"));
    await assert.rejects(LocalCluster.start({ workers: 0 }), naming("LocalCluster option workers"));
    assert.deepEqual(await pool.map((x: number) => x + 1, [1]), [2]);
  });

  it("closes everything it started", async () => {
    const local = await MakePool(undefined, { local: { workers: 1, threads: 1 } });
    const [node] = await local.ping(5000);
    await local.close();
    assert.throws(() => process.kill(node.pid, 0), /ESRCH/);
    await assert.rejects(
      local.map((x: number) => x, [1]),
      /closed/,
    );
  });
});

describe("local cluster's private directory", () => {
  const asRoot = process.getuid?.() === 0;
  const runuser = ["/usr/sbin/runuser", "/sbin/runuser"].find((file) => existsSync(file));

  it("keeps its job server and channels in a directory only this user can enter, unsigned, and removes it on close", async () => {
    const cluster = await LocalCluster.start({ workers: 1, threads: 1 });
    const pool = await poolOnLocalCluster(cluster);
    const dir = cluster.directory!;
    try {
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(cluster.jobServer, `unix:${path.join(dir, "jobs.sock")}`);
      assert.ok(statSync(path.join(dir, "jobs.sock")).isSocket());
      assert.deepEqual(cluster.channelUrls, { commandUrl: `ipc://${dir}/commands`, logUrl: `ipc://${dir}/logs` });
      assert.equal(cluster.secret, undefined);
      assert.deepEqual(await pool.map((x: number) => x * 2, [1, 2, 3], { chunksize: 1 }), [2, 4, 6]);
      const [node] = await pool.ping(5000);
      assert.notEqual(node.pid, process.pid);
    } finally {
      await pool.close();
    }
    assert.equal(existsSync(dir), false, "the directory is removed on close");
  });

  it(
    "cannot be reached by another user of the machine",
    { skip: !asRoot ? "needs root, to try as the user nobody" : !runuser ? "no runuser" : false },
    async () => {
      const cluster = await LocalCluster.start({ workers: 1, threads: 1 });
      try {
        const socketPath = cluster.jobServer.slice("unix:".length);
        const script = `require("net").connect(${JSON.stringify(socketPath)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); })`;
        const { stdout } = await promisify(execFile)(runuser!, ["-u", "nobody", "--", process.execPath, "-e", script], {
          timeout: 30_000,
        });
        assert.equal(stdout.trim(), "EACCES");
      } finally {
        await cluster.close();
      }
    },
  );

  it("with secret: true listens on loopback TCP and signs with a secret of its own", async () => {
    const cluster = await LocalCluster.start({ workers: 1, threads: 1, secret: true });
    const pool = await poolOnLocalCluster(cluster);
    try {
      assert.match(cluster.jobServer, /^127\.0\.0\.1:\d+$/);
      assert.equal(cluster.directory, undefined);
      assert.ok(cluster.secret && cluster.secret.length >= 32);
      assert.match(cluster.channelUrls.commandUrl, /^tcp:\/\/127\.0\.0\.1:0$/);
      assert.deepEqual(await pool.map((x: number) => x + 1, [1, 2, 3], { chunksize: 1 }), [2, 3, 4]);
      assert.equal((await pool.ping(5000)).length, 1, "signed ping and reply");
      // An unsigned chunk submitted straight to its job server is refused by the node.
      const client = new GearmanClient({ servers: cluster.jobServer, exceptions: true });
      try {
        const chunk = encodeChunkRequest({
          fn: toFunctionRef((x: number) => x),
          items: [1],
          start: 0,
          mapId: "m",
          chunk: 0,
          memoryVersion: 0,
        });
        await assert.rejects(client.submitJob("glimpse_map", chunk).result, /unsigned/);
      } finally {
        await client.close();
      }
    } finally {
      await pool.close();
    }
  });

  it("says so when the temp directory is too long for Unix socket paths, and leaves nothing behind", async () => {
    // Unique: another test process (a concurrent file, another checkout's suite) may be here at the same time.
    const long = mkdtempSync(path.join(os.tmpdir(), `glimpse-long-${"x".repeat(90)}-`));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = long;
    try {
      await assert.rejects(
        LocalCluster.start({ workers: 1 }),
        (e: unknown) =>
          e instanceof ArgumentError && /too long for Unix socket paths .* set TMPDIR .* secret: true/.test(e.message),
      );
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    assert.deepEqual(readdirSync(long), [], "the directory it made is removed");
    rmSync(long, { recursive: true, force: true });
  });

  it("removes the directory a killed process's cluster left behind, and never a live cluster's", async () => {
    const script = [
      `import { MakePool } from ${JSON.stringify(new URL("../lib/index.js", import.meta.url).href)};`,
      `const pool = await MakePool(undefined, { local: { workers: 1, threads: 1 } });`,
      `const [node] = await pool.ping(5000);`,
      `const dir = pool.channels.cluster.jobServers[0].slice("unix:".length).replace(/\\/jobs\\.sock$/, "");`,
      `console.log(JSON.stringify({ dir, node: node.pid }));`,
      `setInterval(() => {}, 1000);`,
    ].join("\n");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let left: { dir: string; node: number } | undefined;
    const live = await LocalCluster.start({ workers: 1 });
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (chunk) => {
          out += chunk;
          if (out.includes("\n")) resolve(out.split("\n")[0]);
        });
        child.once("exit", (code) => reject(new Error(`the child exited (${code}) before its cluster was up`)));
      });
      left = JSON.parse(line) as { dir: string; node: number };
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      assert.ok(
        statSync(path.join(left.dir, "jobs.sock")).isSocket(),
        "the killed process left its directory and socket",
      );
      const next = await LocalCluster.start({ workers: 1 });
      await next.close();
      assert.equal(existsSync(left.dir), false, "the next local cluster removed it");
      assert.ok(statSync(path.join(live.directory!, "jobs.sock")).isSocket(), "a running cluster's directory stays");
    } finally {
      child.kill("SIGKILL");
      if (left) {
        try {
          process.kill(left.node, "SIGKILL");
        } catch {
          // already gone with its parent
        }
        rmSync(left.dir, { recursive: true, force: true });
      }
      await live.close();
    }
  });

  it("refuses a secret option that is not a boolean, naming it", async () => {
    await assert.rejects(
      LocalCluster.start({ secret: "x" as never }),
      (e: unknown) => e instanceof ArgumentError && e.argument === "LocalCluster option secret",
    );
  });
});

describe("cache_functions", { skip: embedded.skip }, () => {
  it("sends the function once through shared memory; chunks carry only its key", async () => {
    const cluster = await TestCluster.start({ kind: embedded });
    const pool = await MakePool(cluster.configFile);
    const cached = await MakePool({ client: { ...loadConfig(cluster.configFile)!.client, cacheFunctions: true } });
    try {
      await cluster.startNode(2);
      assert.deepEqual(await cached.map((x: number) => x + 100, [1, 2, 3], { chunksize: 1 }), [101, 102, 103]);
      const keys = await pool.map(() => memory.keys().filter((k: string) => k.startsWith("glimpse:fn:")).length, [0]);
      assert.deepEqual(keys, [1]);
    } finally {
      await cached.close();
      await pool.close();
      await cluster.close();
    }
  });
});

describe("glimpse-cluster demo", () => {
  it("runs the README's main job and shuts everything down", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [CLI_PATH, "demo", "--samples", "100000"], {
      timeout: 120_000,
    });
    assert.match(stdout, /hex over \[1, 2, 3\]: \["0x1","0x2","0x3"\]/);
    assert.match(stdout, /pi ≈ 3\.1\d+ from 100000 samples/);
    assert.match(stdout, /done: everything shut down/);
  });
});

declare const memory: { keys(): string[] };
