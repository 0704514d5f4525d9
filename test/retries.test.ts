/**
 * The pool's one retry rule (docs/robustness.md "How many times a chunk
 * runs"), at its edges, on each job server kind: a chunk is taken by worker
 * nodes at most 1 + retries times however often its job server would hand
 * it out again by itself, and an attempt given up while still queued leaves
 * the job server instead of running later for nobody.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PoolError, moduleFunction, type ClusterPool } from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

const MARKERS = new URL("./fixtures/marker-functions.js", import.meta.url);

for (const kind of jobServerKinds()) {
  describe(`the retry rule on ${kind.name}`, { skip: kind.skip }, () => {
    const nodeFault = kind.name === "in-process" && "a worker node's fault, run on gearmand and embedded";

    it(
      "a chunk that kills its node is taken at most 1 + retries times, though the job server would hand it out 10 times",
      { skip: nodeFault },
      async () => {
        // The server's own requeue limit is far above the pool's: only the pool's count can stop it.
        const cluster = await TestCluster.start({ kind, jobRetries: 10 });
        const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-retries-"));
        let pool: ClusterPool | undefined;
        try {
          // Prefetch 0: a chunk waiting behind the killer would die with it and spend its own retries.
          await cluster.startNode(1, ["--prefetch", "0"]);
          pool = await cluster.pool();
          const killer = moduleFunction<{ x: number; file: string }, number>(MARKERS, "markThenKillAtSeven");
          for (const retries of [0, 1]) {
            const file = path.join(dir, `taken-${retries}`);
            const seen: { failed: number; retries: number }[] = [];
            const items = Array.from({ length: 10 }, (_, x) => ({ x, file }));
            await assert.rejects(
              pool.map(killer, items, { chunksize: 1, retries, onProgress: (p) => seen.push(p) }),
              (e: unknown) => {
                assert.ok(e instanceof PoolError && e.code === "CHUNK_FAILED", String(e));
                assert.match(e.message, new RegExp(`chunk 7 \\(items 7\\.\\.7\\) failed ${retries + 1} times?`));
                return true;
              },
            );
            const takes = readFileSync(file, "utf8").split("\n").filter(Boolean).length;
            // The pool hears of a take only once it happened: the one past the limit is cancelled when heard of, so at most one more.
            assert.ok(
              takes >= retries + 1 && takes <= retries + 2,
              `retries ${retries}: chunk 7 was taken ${takes} times`,
            );
            assert.equal(Math.max(0, ...seen.map((p) => p.retries)), retries, "every retry spent shows in progress");
            assert.equal(seen.at(-1)?.failed, 1, "the failed chunk's one item shows as failed");
          }
          assert.deepEqual(
            await pool.map((x: number) => x * 10, [1, 2]),
            [10, 20],
            "the restarted node serves the next map",
          );
        } finally {
          await pool?.close();
          await cluster.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it("attempts that time out while queued leave the job server: a node that starts afterwards runs none of them", async () => {
      const cluster = await TestCluster.start({ kind });
      const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-retries-"));
      let pool: ClusterPool | undefined;
      try {
        pool = await cluster.pool();
        const file = path.join(dir, "ran");
        const marker = moduleFunction<string, string>(MARKERS, "appendMarker");
        // No node yet: both attempts wait in the queue until they time out.
        await assert.rejects(pool.map(marker, [file], { timeout: 300, retries: 1 }), (e: unknown) => {
          assert.ok(e instanceof PoolError && e.code === "CHUNK_TIMEOUT", String(e));
          assert.match(e.message, /did not finish within 300 ms, 2 times/);
          return true;
        });
        await cluster.startNode(1, ["--prefetch", "0"]);
        // The node takes jobs in the order they were queued: once this one is done, any earlier one left behind would have run.
        assert.deepEqual(await pool.map((x: number) => x + 1, [1]), [2]);
        assert.equal(existsSync(file), false, "a given-up attempt ran after all");
      } finally {
        await pool?.close();
        await cluster.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
