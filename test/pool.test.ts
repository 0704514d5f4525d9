/**
 * The cluster pool end to end, against each job server kind: a broker, two
 * worker nodes started through the CLI, and a client pool from a config file.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { ClusterPool, RemoteError, moduleFunction } from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { GearmanClient, JobError } from "../lib/gearman/index.js";

function hex(x: number): string {
  return "0x" + x.toString(16);
}

for (const kind of jobServerKinds()) {
  describe(`pool on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      await cluster.startNode(2);
      await cluster.startNode(2);
      pool = await cluster.pool();
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
    });

    it("maps in order, as the original's hex example", async () => {
      assert.deepEqual(await pool.map(hex, [1, 2, 3]), ["0x1", "0x2", "0x3"]);
      const many = Array.from({ length: 500 }, (_, i) => i);
      assert.deepEqual(
        await pool.map((x: number) => x * 2, many, { chunksize: 7 }),
        many.map((x) => x * 2),
      );
    });

    it("keeps rich values: Dates, Maps, BigInts, typed arrays", async () => {
      const items = [new Map([["a", 1n]]), new Date(0), new Uint8Array([1, 2, 3])];
      const out = await pool.map((x: unknown) => [x], items);
      assert.deepEqual(
        out,
        items.map((x) => [x]),
      );
    });

    it("imap pulls a generator lazily and yields in order", async () => {
      let pulled = 0;
      function* numbers() {
        for (let i = 0; i < 10_000; i++) {
          pulled++;
          yield i;
        }
      }
      const seen: number[] = [];
      for await (const value of pool.imap((x: number) => x + 1, numbers(), { chunksize: 10, maxInFlight: 4 })) {
        seen.push(value);
        if (seen.length === 100) {
          // 4 chunks of 10 running, and the chunks that finished before an older one held for the order
          // (bounded in bytes, lib/pool/window.ts): a few windows ahead, not all 10,000.
          assert.ok(pulled < 1000, `pulled ${pulled} items for 100 results`);
        }
      }
      assert.equal(seen.length, 10_000);
      assert.deepEqual(seen.slice(0, 5), [1, 2, 3, 4, 5]);
      assert.equal(seen[9_999], 10_000);
    });

    it("imapUnordered yields every result once", async () => {
      const out: number[] = [];
      for await (const value of pool.imapUnordered(
        (x: number) => x * x,
        Array.from({ length: 100 }, (_, i) => i),
        { chunksize: 3 },
      ))
        out.push(value);
      assert.deepEqual(
        out.sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i * i).sort((a, b) => a - b),
      );
    });

    it("a throwing function rejects with RemoteError keeping the remote stack", async () => {
      const error = await pool
        .map(
          function failOnSeven(x: number) {
            if (x === 7) throw new TypeError(`seven is bad`);
            return x;
          },
          Array.from({ length: 20 }, (_, i) => i),
          { chunksize: 4 },
        )
        .then(
          () => assert.fail("map should reject"),
          (e: unknown) => e,
        );
      assert.ok(error instanceof RemoteError, `got ${error}`);
      assert.equal(error.index, 7);
      assert.match(error.message, /failOnSeven/);
      assert.ok(error.cause instanceof Error);
      assert.equal((error.cause as Error).name, "TypeError");
      assert.match((error.cause as Error).stack ?? "", /failOnSeven/);
      assert.ok(error.pid > 0);
    });

    it("a closure is refused before anything is sent, naming the variable", async () => {
      const factor = 3;
      await assert.rejects(
        pool.map((x: number) => x * factor, [1, 2]),
        (e: Error) => /factor/.test(e.message),
      );
    });

    it("module functions run on the workers", async () => {
      const fn = moduleFunction(new URL("./fixtures/pool-functions.js", import.meta.url), "triple");
      assert.deepEqual(await pool.map(fn, [1, 2, 3]), [3, 6, 9]);
    });

    it("setMemory is acknowledged and read by functions", async () => {
      await pool.setMemory({ offset: 100 });
      assert.deepEqual(await pool.map((x: number) => x + (memory.get("offset") as number), [1, 2]), [101, 102]);
    });

    it("reports progress up to the total", async () => {
      const seen: number[] = [];
      await pool.map(
        (x: number) => x,
        Array.from({ length: 40 }, (_, i) => i),
        {
          chunksize: 5,
          onProgress: ({ done, total }) => {
            assert.equal(total, 40);
            seen.push(done);
          },
        },
      );
      assert.equal(seen.at(-1), 40);
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => a - b),
      );
    });

    it("an abort rejects with AbortError and stops the map", async () => {
      const controller = new AbortController();
      const started = pool.map(
        async (x: number) => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          return x;
        },
        Array.from({ length: 400 }, (_, i) => i),
        { chunksize: 1, signal: controller.signal, onProgress: ({ done }) => done >= 2 && controller.abort() },
      );
      await assert.rejects(started, (e: Error) => e.name === "AbortError");
      // The cluster still serves the next map.
      assert.deepEqual(await pool.map(hex, [10]), ["0xa"]);
    });

    it("a glimpse_map job that is not our wire format gets an exception, and the node keeps serving", async () => {
      const client = new GearmanClient(cluster.server.clientOptions());
      try {
        for (const garbage of ["hello from another language", Buffer.from("GLMP\x09\x01\x01\x00\x00\x00\x00\x00")]) {
          await assert.rejects(
            client.submitJob("glimpse_map", garbage).result,
            (e: unknown) => e instanceof JobError && /WireFormatError/.test(e.exception?.toString() ?? ""),
          );
        }
      } finally {
        await client.close();
      }
      assert.deepEqual(await pool.map(hex, [255]), ["0xff"]);
    });

    it("ping lists both worker nodes", async () => {
      const nodes = await pool.ping(5000);
      assert.equal(nodes.length, 2, JSON.stringify(nodes));
      for (const node of nodes) {
        assert.ok(node.pid > 0);
        assert.equal(node.threads, 2);
      }
    });

    it("a worker node killed with SIGKILL in the middle of a map: results still complete and exact", async () => {
      const [victim] = await pool.ping(5000);
      const items = Array.from({ length: 200 }, (_, i) => i);
      let killed = false;
      const out = await pool.map(
        async (x: number) => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return x * 3;
        },
        items,
        {
          chunksize: 2,
          onProgress: ({ done }) => {
            if (!killed && done >= 20) {
              killed = true;
              process.kill(victim.pid, "SIGKILL");
            }
          },
        },
      );
      assert.ok(killed);
      assert.deepEqual(
        out,
        items.map((x) => x * 3),
      );
    });
  });
}

declare const memory: { get(key: string): unknown };
