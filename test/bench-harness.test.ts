/**
 * The benchmark harness's own pieces, for correctness only (no timing):
 * latency histogram, sample percentiles, /proc readers, the raw-socket load
 * generator against real job servers, and the bench's server launcher.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { LatencyHistogram } from "../bench/histogram.js";
import { median, percentile } from "../bench/measure.js";
import { spawn } from "node:child_process";
import { cpuSeconds, machineTicks, memory, processTree } from "../bench/proc-stats.js";
import { rawBackground, rawClients, rawLoad, rawWorker } from "../bench/raw-gearman.js";
import { embedded as benchEmbedded, gearmand as benchGearmand } from "../bench/job-servers.js";
import { abortable, budgetSignal } from "../bench/budget.js";
import { jobServerKinds } from "./support/job-servers.js";
import { missingPeer } from "./support/peers.js";

/** Sends one admin text command and returns the reply up to its "." line. */
function adminStatus(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk;
      if (/^\.\r?$/m.test(text)) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on("error", reject);
    socket.write("status\n");
  });
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("LatencyHistogram", () => {
  it("gives nearest-rank percentiles within half a bucket, and exact count, min, max, mean", () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10); // 0.1 … 100 ms
    assert.equal(h.count, 1000);
    assert.equal(h.min, 0.1);
    assert.equal(h.max, 100);
    assert.ok(Math.abs(h.mean - 50.05) < 1e-9);
    for (const [p, exact] of [
      [50, 50],
      [99, 99],
      [1, 1],
      [0.1, 0.1],
      [100, 100],
    ] as const) {
      const got = h.percentile(p);
      assert.ok(Math.abs(got - exact) / exact <= 0.006, `p${p}: ${got} vs ${exact}`);
    }
  });

  it("merges histograms as if every value had been recorded in one", () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const both = new LatencyHistogram();
    for (let i = 0; i < 500; i++) {
      const x = 0.05 + ((i * 7919) % 1000) / 100;
      (i % 3 === 0 ? a : b).record(x);
      both.record(x);
    }
    a.merge(b);
    assert.equal(a.count, both.count);
    assert.equal(a.min, both.min);
    assert.equal(a.max, both.max);
    for (const p of [10, 50, 90, 99, 99.9]) assert.equal(a.percentile(p), both.percentile(p));
  });

  it("handles values below 1 µs and refuses bad input", () => {
    const h = new LatencyHistogram();
    assert.ok(Number.isNaN(h.percentile(50)));
    assert.ok(Number.isNaN(h.mean));
    h.record(0);
    h.record(0.0004);
    assert.equal(h.percentile(100), 0.0004);
    assert.throws(() => h.record(-1), /cannot record -1 ms/);
    assert.throws(() => h.record(NaN), /cannot record NaN ms/);
    assert.throws(() => h.percentile(0), /percentile 0 is outside/);
    assert.throws(() => h.percentile(101), /percentile 101 is outside/);
  });
});

describe("sample percentiles", () => {
  it("uses the nearest rank", () => {
    assert.equal(median([5, 1, 3]), 3);
    assert.equal(median([4, 1, 3, 2]), 2);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(median([])));
  });
});

describe("/proc readers", () => {
  it("read this process's CPU seconds, which grow while it computes", () => {
    const before = cpuSeconds(process.pid);
    assert.ok(before >= 0);
    const deadline = Date.now() + 20_000;
    let x = 0;
    do {
      for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
      assert.ok(Date.now() < deadline, "CPU seconds never grew");
    } while (cpuSeconds(process.pid) <= before);
    assert.ok(cpuSeconds(process.pid) > before);
    assert.ok(x > 0);
  });

  it("read this process's resident memory, peak at least current", () => {
    const m = memory(process.pid);
    assert.ok(m.rssMb > 1, `rss ${m.rssMb}`);
    assert.ok(m.peakMb >= m.rssMb, `peak ${m.peakMb} < rss ${m.rssMb}`);
  });

  it("find a process's descendants, and the machine's idle and total ticks, which only grow", async (t) => {
    // A shell whose child sleeps: both are in this process's tree, below it.
    const shell = spawn("sh", ["-c", "sleep 30 & wait"], { stdio: "ignore" });
    t.after(() => shell.kill("SIGKILL"));
    const deadline = Date.now() + 10_000;
    let tree = processTree(process.pid);
    while (tree.length < 3 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      tree = processTree(process.pid);
    }
    assert.equal(tree[0], process.pid);
    assert.ok(tree.includes(shell.pid!), `${shell.pid} in ${tree.join(" ")}`);
    assert.equal(processTree(shell.pid!).length, 2, "the shell and its sleep");
    const before = machineTicks();
    assert.ok(before.total > 0 && before.idle >= 0 && before.idle <= before.total);
    let after = machineTicks();
    while (after.total === before.total && Date.now() < deadline) {
      for (let i = 0; i < 1e6; i++) Math.sqrt(i);
      after = machineTicks();
    }
    assert.ok(after.total > before.total && after.idle >= before.idle);
  });

  it("name the process they cannot read", () => {
    assert.throws(() => cpuSeconds(2 ** 22 + 17), /\/proc\/4194321\/stat/);
    assert.throws(() => memory(2 ** 22 + 17), /\/proc\/4194321\/status/);
  });
});

describe("case budgets", () => {
  it("reject a promise that outlives its budget, with the case named", async () => {
    const budget = budgetSignal("slow-case", 0.05);
    after(() => budget.clear());
    await assert.rejects(
      abortable(new Promise(() => {}), budget.signal),
      /case slow-case ran past its budget of 0.05 s/,
    );
    assert.equal(await abortable(Promise.resolve(7), new AbortController().signal), 7);
  });
});

// A raw-socket load generator: no GearmanClient, so the in-process kind would only be the embedded server again.
for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`raw load generator on ${kind.name}`, { skip: kind.skip }, () => {
    it("runs echo jobs at 1 and 16 in flight, each recorded once and echoed", async (t) => {
      const server = await kind.start({ jobRetries: 0 });
      t.after(() => server.stop());
      const workers = await Promise.all([rawWorker(server.port, "echo"), rawWorker(server.port, "echo")]);
      t.after(() => workers.forEach((w) => w.close()));
      const payload = Buffer.from("payload\0with-nul");
      for (const inFlight of [1, 16]) {
        const result = await rawLoad({ port: server.port, func: "echo", inFlight, jobs: 300, payload });
        assert.equal(result.jobs, 300);
        assert.equal(result.latency.count, 300);
        assert.ok(result.jobsPerSecond > 0 && result.latency.percentile(99) >= result.latency.percentile(50));
      }
      assert.equal(workers[0].completed + workers[1].completed, 600);
      const many = await rawClients({ port: server.port, func: "echo", clients: 16, jobs: 301, payload });
      assert.equal(many.jobs, 301);
      assert.equal(many.latency.count, 301, "every client's jobs, each recorded once");
      assert.equal(workers[0].completed + workers[1].completed, 901);
    });

    it("queues background jobs that the server then reports", async (t) => {
      const server = await kind.start({ jobRetries: 0 });
      t.after(() => server.stop());
      await rawBackground({ port: server.port, func: "queued_only", jobs: 500, window: 64 });
      const status = await adminStatus(server.port);
      assert.match(status, /^queued_only\t500\t0\t0$/m);
    });

    it("rejects, naming the server, when the server goes away mid-load", async (t) => {
      const server = await kind.start({ jobRetries: 0 });
      t.after(() => server.stop());
      const load = rawLoad({ port: server.port, func: "nobody_does_this", inFlight: 10, jobs: 1000 });
      // No worker: the jobs stay queued until the server is killed.
      const deadline = Date.now() + 10_000;
      while (!(await adminStatus(server.port)).includes("nobody_does_this\t10\t")) {
        assert.ok(Date.now() < deadline, "the 10 jobs never showed up as queued");
        await new Promise((r) => setTimeout(r, 10));
      }
      const rejected = assert.rejects(
        load,
        new RegExp(`raw client \\(nobody_does_this, 10 in flight\\): .*(closed the connection|ECONNRESET)`),
      );
      await server.kill();
      await rejected;
    });

    it("stops when its signal fires", async (t) => {
      const server = await kind.start({ jobRetries: 0 });
      t.after(() => server.stop());
      const controller = new AbortController();
      const load = rawLoad({
        port: server.port,
        func: "nobody_does_this",
        inFlight: 1,
        jobs: 10,
        signal: controller.signal,
      });
      controller.abort(new Error("budget"));
      await assert.rejects(load, /stopped \(Error: budget\)/);
    });
  });
}

describe("bench job-server launcher", () => {
  // A missing gearmand follows the peers' rule (a skip, or a failure where it is required).
  for (const [contender, missing] of [
    [benchGearmand(1), missingPeer("gearmand")],
    [benchEmbedded(), undefined],
  ] as const) {
    it(
      `starts ${contender.name} on a free port and stops it for good`,
      { skip: missing ?? contender.skip },
      async (t) => {
        const server = await contender.start();
        t.after(() => server.stop());
        assert.ok(server.port > 0 && alive(server.pid));
        assert.match(await adminStatus(server.port), /^\.\r?$/m);
        await server.stop();
        assert.equal(alive(server.pid), false);
        await server.stop(); // twice is fine
      },
    );
  }
});
