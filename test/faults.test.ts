/**
 * Faults with real processes, on each job server kind: worker nodes killed
 * again and again in one map, a job server killed in the middle of a map, a
 * chunk that exhausts its thread's memory, and (on the embedded server) a
 * soak of a million items through restarting nodes with flat memory. (A broker restarted mid-run is
 * in channels.test.ts, a killed worker thread in pool-local.test.ts, the
 * embedded server's journal across kill -9 in job-server.test.ts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PoolError, moduleFunction, type ClusterPool } from "../lib/index.js";
import { jobServerKinds, type RunningJobServer } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

/** A small seeded generator, so a failing run can be repeated. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Progress as events: `reached(n)` resolves once at least n items are done. */
class ProgressGate {
  done = 0;
  private waiters: { at: number; resolve: () => void }[] = [];
  update = ({ done }: { done: number }) => {
    this.done = done;
    this.waiters = this.waiters.filter((w) => (done >= w.at ? (w.resolve(), false) : true));
  };
  reached(at: number): Promise<void> {
    return this.done >= at ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ at, resolve }));
  }
}

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) * 1024;

for (const kind of jobServerKinds()) {
  describe(`faults on ${kind.name}`, { skip: kind.skip }, () => {
    // On the in-process kind only the killed job server runs: the other faults are the worker nodes' (which reach every kind over TCP), and a third run of them would take the suite past its five minutes.
    const nodeFault =
      kind.name === "in-process" &&
      "a worker node's fault, run on gearmand and embedded (in-process runs the killed job server)";
    // The soak is the suite's longest test (100,000 jobs). It checks the memory of our job server and of the client,
    // which is the same code on every kind; gearmand's memory is not ours, and its hand-backs of a killed node's
    // jobs are the five-kills test's.
    const soakSkip =
      kind.name !== "embedded" &&
      "the soak runs on the embedded server (our server's memory; the client's is the same on every kind)";
    it(
      "worker nodes killed with SIGKILL five times in one map: exact results, each counted once",
      { skip: nodeFault },
      async () => {
        const cluster = await TestCluster.start({ kind });
        let pool: ClusterPool | undefined;
        try {
          await cluster.startNode(2);
          await cluster.startNode(2);
          pool = await cluster.pool();
          const random = seeded(20261122);
          const items = Array.from({ length: 1200 }, (_, i) => i);
          const gate = new ProgressGate();
          const thresholds = [0.05, 0.15, 0.25, 0.35, 0.45].map((t) =>
            Math.floor(items.length * (t + random() * 0.05)),
          );
          const killed: number[] = [];
          const progressSeen: number[] = [];
          const mapped = pool.map(
            async (x: number) => {
              await new Promise((resolve) => setTimeout(resolve, 8));
              return x * 3;
            },
            items,
            { chunksize: 2, onProgress: (p) => (gate.update(p), progressSeen.push(p.done)) },
          );
          const killer = (async () => {
            for (const at of thresholds) {
              await gate.reached(at);
              const nodes = await pool!.ping(5000);
              const victim = nodes[Math.floor(random() * nodes.length)];
              process.kill(victim.pid, "SIGKILL");
              killed.push(victim.pid);
            }
          })();
          const out = await mapped;
          await killer;
          assert.equal(killed.length, 5);
          assert.deepEqual(
            out,
            items.map((x) => x * 3),
          );
          assert.equal(progressSeen.at(-1), items.length, "progress ends at the item count: no chunk counted twice");
          assert.ok(progressSeen.every((d, i) => i === 0 || d >= progressSeen[i - 1]));
        } finally {
          await pool?.close();
          await cluster.close();
        }
      },
    );

    it("two job servers, one killed in the middle of a map: the map completes on the other", async () => {
      const cluster = await TestCluster.start({ kind });
      let second: RunningJobServer | undefined;
      let pool: ClusterPool | undefined;
      try {
        second = await kind.start({ jobRetries: 0 });
        const both = cluster.writeConfig(
          "two-servers.ini",
          readFileSync(cluster.configFile, "utf8").replace(
            /^job_server_url = .*$/m,
            `job_server_url = ${cluster.server.url}, ${second.url}`,
          ),
        );
        await cluster.startNode(2, [], both);
        await cluster.startNode(2, [], both);
        pool = await cluster.pool(both);
        const items = Array.from({ length: 600 }, (_, i) => i);
        const gate = new ProgressGate();
        const mapped = pool.map(
          async (x: number) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            return -x;
          },
          items,
          { chunksize: 2, onProgress: gate.update },
        );
        await gate.reached(150);
        await cluster.server.kill();
        assert.ok(gate.done < items.length, "the server died in the middle of the map");
        assert.deepEqual(
          await mapped,
          items.map((x) => -x),
        );
        assert.deepEqual(
          await pool.map((x: number) => x + 1, [1, 2, 3]),
          [2, 3, 4],
          "the next map runs on the survivor",
        );
      } finally {
        await pool?.close();
        await cluster.close();
        await second?.stop();
      }
    });

    it(
      "a chunk that exhausts its thread's memory (--memory-limit) fails after max_retries naming it; the cluster keeps serving",
      { skip: nodeFault },
      async () => {
        const cluster = await TestCluster.start({ kind, jobRetries: 3 });
        let pool: ClusterPool | undefined;
        try {
          await cluster.startNode(1, ["--memory-limit", "48"]);
          pool = await cluster.pool();
          const hog = (x: number) => {
            if (x !== 13) return x;
            const hoard: number[][] = [];
            for (;;) hoard.push(new Array(1_000_000).fill(x));
          };
          await assert.rejects(
            pool.map(
              hog,
              Array.from({ length: 20 }, (_, i) => i),
              { chunksize: 1, retries: 2 },
            ),
            (e: unknown) => {
              assert.ok(e instanceof PoolError && e.code === "CHUNK_FAILED", String(e));
              assert.match(e.message, /chunk 13 \(items 13\.\.13\) failed 3 times/);
              return true;
            },
          );
          assert.deepEqual(await pool.map((x: number) => x * 10, [1, 2]), [10, 20]);
          assert.equal((await pool.ping(5000)).length, 1, "the node survived its thread");
        } finally {
          await pool?.close();
          await cluster.close();
        }
      },
    );

    it(
      "a chunk that kills its worker node process fails after the retries, naming it; the restarted node serves the next map",
      { skip: nodeFault },
      async () => {
        const cluster = await TestCluster.start({ kind, jobRetries: 1 });
        let pool: ClusterPool | undefined;
        try {
          // Prefetch 0: a chunk waiting in the node's thread would die with the killer and use up its own retries.
          await cluster.startNode(1, ["--prefetch", "0"]);
          pool = await cluster.pool();
          const killer = moduleFunction<number, number>(
            new URL("./fixtures/marker-functions.js", import.meta.url),
            "killProcessAtSeven",
          );
          await assert.rejects(
            pool.map(
              killer,
              Array.from({ length: 10 }, (_, i) => i),
              { chunksize: 1, retries: 0 },
            ),
            (e: unknown) => {
              assert.ok(e instanceof PoolError && e.code === "CHUNK_FAILED", String(e));
              assert.match(e.message, /chunk 7 \(items 7\.\.7\) failed 1 time/);
              return true;
            },
          );
          assert.deepEqual(await pool.map((x: number) => x * 10, [1, 2]), [10, 20]);
        } finally {
          await pool?.close();
          await cluster.close();
        }
      },
    );

    it(
      "soak: 1,000,000 items in 100,000 chunks through 2 nodes, one killed and restarted twice; exact results, flat memory",
      { skip: soakSkip },
      async () => {
        const cluster = await TestCluster.start({ kind });
        let pool: ClusterPool | undefined;
        try {
          await cluster.startNode(1);
          await cluster.startNode(1);
          pool = await cluster.pool();
          const total = 1_000_000;
          const gate = new ProgressGate();
          const samples: Record<string, { client: number; server: number }> = {};
          const sample = (name: string) =>
            (samples[name] = { client: process.memoryUsage().rss, server: rssOf(cluster.server.pid) });
          const faults = (async () => {
            await gate.reached(total * 0.1);
            sample("10%");
            for (const at of [0.3, 0.6]) {
              await gate.reached(total * at);
              const nodes = await pool!.ping(5000);
              process.kill(nodes[0].pid, "SIGKILL");
            }
            await gate.reached(total * 0.5);
            sample("50%");
          })();
          function* numbers() {
            for (let i = 0; i < total; i++) yield i;
          }
          let expected = 0;
          for await (const value of pool.imap((x: number) => x * 2, numbers(), {
            chunksize: 10,
            onProgress: gate.update,
          })) {
            if (value !== expected * 2) assert.fail(`item ${expected}: got ${value}`);
            expected++;
          }
          await faults;
          sample("100%");
          assert.equal(expected, total);
          const mb = (n: number) => Math.round(n / 1e6);
          const report = Object.entries(samples)
            .map(([at, s]) => `${at}: client ${mb(s.client)} MB, ${kind.name} ${mb(s.server)} MB`)
            .join("; ");
          process.stdout.write(`# soak memory on ${kind.name}: ${report}\n`);
          // Flat: between half way and the end, neither grew by more than 100 MB.
          assert.ok(samples["100%"].client - samples["50%"].client < 100e6, report);
          assert.ok(samples["100%"].server - samples["50%"].server < 100e6, report);
        } finally {
          await pool?.close();
          await cluster.close();
        }
      },
    );
  });
}
