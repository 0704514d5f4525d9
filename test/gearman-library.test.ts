/**
 * The Gearman client, worker and admin client against real job servers: the
 * same suite for gearmand, the embedded server and the in-process one.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { fileURLToPath } from "node:url";
import {
  GearmanClient,
  GearmanWorker,
  AdminClient,
  ArgumentError,
  GearmanError,
  JobError,
  type WorkerJob,
} from "../lib/gearman/index.js";
import { JobServer } from "../lib/server/index.js";
import { clientOptionsFor, jobServerKinds, freePort, type RunningJobServer } from "./support/job-servers.js";
import { startLineProcess, eventually } from "./support/gearman.js";
import { assertOnlySentinelRuns, created } from "./support/withdrawn-job.js";

const FIXTURE_WORKER = fileURLToPath(new URL("./fixtures/gearman-worker.js", import.meta.url));

for (const kind of jobServerKinds()) {
  describe(`gearman library on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    const closers: (() => Promise<unknown>)[] = [];
    const client = (options: Partial<ConstructorParameters<typeof GearmanClient>[0]> = {}) => {
      const c = new GearmanClient({ ...server.clientOptions(), ...options });
      closers.push(() => c.close());
      return c;
    };
    const worker = (concurrency = 1) => {
      const w = new GearmanWorker({ servers: server.url, concurrency });
      closers.push(() => w.close());
      return w;
    };

    before(async () => {
      server = await kind.start({ jobRetries: 0 });
    });
    after(async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => {});
      await server.stop();
    });

    it("runs a job and returns its result", async () => {
      worker()
        .register("reverse", (job) => Buffer.from([...job.data].reverse()))
        .start();
      assert.equal((await client().submitJob("reverse", "hello").result).toString(), "olleh");
    });

    it("serves priorities HIGH, NORMAL, LOW, FIFO within each", async () => {
      const c = client();
      const order = ["low1", "normal1", "high1", "low2", "normal2", "high2"];
      const jobs = order.map((name) =>
        c.submitJob("prio", name, { priority: name.replace(/\d/, "") as "low" | "normal" | "high" }),
      );
      await Promise.all(jobs.map((job) => new Promise((resolve) => job.once("created", resolve))));
      const seen: string[] = [];
      worker(1)
        .register("prio", (job) => {
          seen.push(job.data.toString());
          return "ok";
        })
        .start();
      await Promise.all(jobs.map((job) => job.result));
      assert.deepEqual(seen, ["high1", "high2", "normal1", "normal2", "low1", "low2"]);
    });

    it("runs background jobs and reports their status", async () => {
      const c = client();
      const handle = await c.submitBackground("bg", "payload");
      assert.match(handle, /^H:/);
      const queued = await c.getStatus(handle);
      assert.equal(queued.known, true);
      assert.equal(queued.running, false);
      const ran = new Promise<string>((resolve) => {
        worker()
          .register("bg", (job) => {
            resolve(job.data.toString());
            return "";
          })
          .start();
      });
      assert.equal(await ran, "payload");
      await eventually(async () => !(await c.getStatus(handle)).known, 10_000, "background job to finish");
    });

    it("coalesces jobs with the same unique id: one handle, one execution, both results", async () => {
      const c1 = client();
      const c2 = client();
      const a = c1.submitJob("coalesce", "x", { unique: "same-unique" });
      const b = c2.submitJob("coalesce", "x", { unique: "same-unique" });
      const [ha, hb] = await Promise.all(
        [a, b].map((job) => new Promise<string>((resolve) => job.once("created", resolve))),
      );
      assert.equal(ha, hb);
      const status = await c1.getStatusUnique("same-unique");
      assert.equal(status.known, true);
      assert.equal(status.clientCount, 2);
      let runs = 0;
      worker()
        .register("coalesce", () => String(++runs))
        .start();
      assert.deepEqual((await Promise.all([a.result, b.result])).map(String), ["1", "1"]);
      assert.equal(runs, 1);
    });

    it("a large payload is the submitter's and a large result each client's own: one job's result, coalesced for two clients, changed by one, is unchanged for the other", async () => {
      const c1 = client();
      const c2 = client();
      const payload = Buffer.alloc(200 * 1024, 7);
      const a = c1.submitJob("large_own", payload, { unique: "large-unique" });
      const b = c2.submitJob("large_own", payload, { unique: "large-unique" });
      await Promise.all([a, b].map((job) => new Promise((resolve) => job.once("created", resolve))));
      // The handler changes the job's data and returns it: the worker's copy, never the client's.
      worker()
        .register("large_own", (job) => ((job.data[0] = 1), job.data))
        .start();
      const [ra, rb] = await Promise.all([a.result, b.result]);
      assert.ok(
        payload.every((byte) => byte === 7),
        "the submitted payload is unchanged",
      );
      assert.deepEqual([ra.length, ra[0], ra[1]], [payload.length, 1, 7]);
      ra.fill(0);
      assert.deepEqual(
        [rb.length, rb[0], rb[1], rb[rb.length - 1]],
        [payload.length, 1, 7, 7],
        "the other client's result shares no bytes with the first's",
      );
    });

    it(
      "a large result forwarded to a job's only in-process client is kept as the frame the server assembled, not copied",
      { skip: kind.name === "in-process" ? false : "only an in-process client shares memory with its server" },
      async () => {
        worker()
          .register("large_alone", (job) => Buffer.alloc(300 * 1024, job.data[0]))
          .start();
        const job = client().submitJob("large_alone", Buffer.from([9]));
        const created = new Promise<string>((resolve) => job.once("created", resolve));
        const result = await job.result;
        const handle = await created;
        assert.ok(result.length === 300 * 1024 && result.every((byte) => byte === 9));
        // A view into the forwarded WORK_COMPLETE frame starts after its 12-byte header and "handle\0"; a copy would start at 0.
        assert.equal(result.byteOffset, 12 + Buffer.byteLength(handle) + 1);
      },
    );

    it("forwards status, data and warnings to the client", async () => {
      worker()
        .register("chatty", (job: WorkerJob) => {
          job.sendStatus(1, 3);
          job.sendData("part");
          job.sendWarning("careful");
          job.sendStatus(3, 3);
          return "done";
        })
        .start();
      const job = client().submitJob("chatty", "");
      const events: string[] = [];
      job.on("status", (n, d) => events.push(`status ${n}/${d}`));
      job.on("data", (d: Buffer) => events.push(`data ${d}`));
      job.on("warning", (d: Buffer) => events.push(`warning ${d}`));
      assert.equal((await job.result).toString(), "done");
      assert.deepEqual(events, ["status 1/3", "data part", "warning careful", "status 3/3"]);
    });

    it("delivers exceptions to clients that asked, WORK_FAIL to the others", async () => {
      worker()
        .register("throws", () => {
          throw new RangeError("out of range");
        })
        .start();
      const withOption = client().submitJob("throws", "");
      let exception = "";
      withOption.on("exception", (data: Buffer) => (exception = data.toString()));
      await assert.rejects(
        withOption.result,
        (e: unknown) =>
          e instanceof JobError && e.code === "JOB_EXCEPTION" && /out of range/.test(e.exception!.toString()),
      );
      assert.match(exception, /RangeError: out of range/);
      const without = client({ exceptions: false }).submitJob("throws", "");
      await assert.rejects(
        without.result,
        (e: unknown) => e instanceof JobError && e.code === "JOB_FAILED" && e.exception === undefined,
      );
    });

    it("retries failed jobs, with a retry event", async () => {
      let calls = 0;
      const w = worker();
      w.register("flaky", (job) => {
        if (++calls < 3) return void job.fail();
        return "third time";
      }).start();
      const job = client().submitJob("flaky", "", { retries: 2 });
      const retries: number[] = [];
      job.on("retry", (attempt: number) => retries.push(attempt));
      assert.equal((await job.result).toString(), "third time");
      assert.deepEqual(retries, [2, 3]);
    });

    it("times out and aborts jobs nobody serves", async () => {
      const c = client();
      await assert.rejects(
        c.submitJob("nobody-serves-this", "", { timeoutMs: 50 }).result,
        (e: unknown) => (e as GearmanError).code === "TIMEOUT",
      );
      const controller = new AbortController();
      const job = c.submitJob("nobody-serves-this-either", "", { signal: controller.signal });
      await new Promise((resolve) => job.once("created", resolve));
      controller.abort();
      await assert.rejects(job.result, (e: unknown) => (e as GearmanError).code === "ABORTED");
      // The cancelled job leaves the server's queue (gearmand marks it ignored and drops it lazily; ours removes it).
      const admin = new AdminClient(server.url);
      closers.push(() => admin.close());
      await eventually(
        async () => !(await admin.showJobs()).some((j) => j.handle === job.handle && j.ignoreJob === 0),
        5000,
        "cancelled job to leave the queue",
      );
    });

    it("honours the worker's concurrency limit", async () => {
      let running = 0;
      let peak = 0;
      worker(3)
        .register("limited", async () => {
          peak = Math.max(peak, ++running);
          await new Promise((resolve) => setImmediate(resolve));
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          return "";
        })
        .start();
      const c = client();
      await Promise.all(Array.from({ length: 30 }, () => c.submitJob("limited", "").result));
      assert.ok(peak <= 3, `peak ${peak}`);
      assert.ok(peak >= 2, `peak ${peak}: jobs should overlap`);
    });

    it("a worker killed in the middle of a job: another worker completes it", async () => {
      const victim = startLineProcess(process.execPath, [FIXTURE_WORKER, server.url]);
      closers.push(() => victim.kill("SIGKILL"));
      await victim.waitFor(/connected/);
      const job = client().submitJob("hold", "precious");
      await victim.waitFor(/holding H:/);
      const rescuer = worker();
      rescuer.register("hold", (j) => `rescued ${j.data}`).start();
      await victim.kill("SIGKILL");
      assert.equal((await job.result).toString(), "rescued precious");
    });

    it("the admin client parses every command's reply", async () => {
      const admin = new AdminClient(server.url);
      closers.push(() => admin.close());
      const w = new GearmanWorker({ servers: server.url, clientId: "admin-test-worker" });
      closers.push(() => w.close());
      w.register("admin_fn", () => "").start();
      await eventually(
        async () => (await admin.workers()).find((x) => x.clientId === "admin-test-worker"),
        5000,
        "worker to register",
      );
      const workers = await admin.workers();
      assert.deepEqual(workers.find((x) => x.clientId === "admin-test-worker")!.functions, ["admin_fn"]);
      const status = await admin.status();
      assert.equal(status.find((s) => s.func === "admin_fn")!.workers, 1);
      assert.match(await admin.version(), /\S/);
      assert.ok((await admin.getpid()) === server.pid);
      await admin.maxqueue("admin_fn", 5);
      const c = client();
      const handle = await c.submitBackground("admin_queue_only", "x", { unique: "admin-unique" });
      const jobs = await admin.showJobs();
      assert.ok(jobs.some((j) => j.handle === handle));
      assert.ok((await admin.showUniqueJobs()).includes("admin-unique"));
      await admin.cancelJob(handle);
      assert.ok(!(await admin.showJobs()).some((j) => j.handle === handle && j.ignoreJob === 0));
      await admin.createFunction("created_fn");
      assert.ok((await admin.status()).some((s) => s.func.startsWith("created_f")));
      await assert.rejects(admin.command("no_such_command"), (e: unknown) => (e as GearmanError).code === "ADMIN");
    });

    it("maxqueue limits give clients QUEUE_ERROR", async () => {
      const admin = new AdminClient(server.url);
      closers.push(() => admin.close());
      const c = client();
      await c.submitBackground("bounded", "1");
      // gearmand applies maxqueue only to functions it already knows.
      await admin.maxqueue("bounded", 1);
      await assert.rejects(
        c.submitBackground("bounded", "2"),
        (e: unknown) => (e as { serverCode?: string }).serverCode === "QUEUE_ERROR",
      );
    });
  });

  describe(`jobs the client gives up on, on ${kind.name}`, { skip: kind.skip }, () => {
    // Each test gets a server of its own: the proof counts every job the server holds.
    const lazyCancel = kind.name === "gearmand";
    const setup = async (t: { after: (fn: () => Promise<unknown>) => void }) => {
      const own = await kind.start({ jobRetries: 0 });
      const c = new GearmanClient({ servers: own.url });
      const admin = new AdminClient(own.url);
      t.after(async () => {
        await c.close();
        await admin.close();
        await own.stop();
      });
      return { own, c, admin };
    };

    it("cancel(), an aborted signal and a cancel before JOB_CREATED each remove the job from the queue", async (t) => {
      const { own, c, admin } = await setup(t);
      const byCancel = c.submitJob("given_up", "by cancel");
      await created(byCancel);
      byCancel.cancel();
      const controller = new AbortController();
      const bySignal = c.submitJob("given_up", "by signal", { signal: controller.signal });
      await created(bySignal);
      controller.abort();
      const beforeCreated = c.submitJob("given_up", "before created");
      beforeCreated.cancel(); // its JOB_CREATED cannot have arrived: the submission is not even sent yet
      for (const job of [byCancel, bySignal, beforeCreated])
        await assert.rejects(job.result, (e: unknown) => (e as GearmanError).code === "ABORTED");
      await assertOnlySentinelRuns(c, admin, "given_up", { servers: own.url }, lazyCancel);
    });

    it("a timed-out attempt still queued is removed from the server, every attempt", async (t) => {
      const { own, c, admin } = await setup(t);
      const isTimeout = (e: unknown) => e instanceof GearmanError && e.code === "TIMEOUT";
      // Two attempts, two jobs on the server: both must go.
      const retried = c.submitJob("timed_out", "retried", { timeoutMs: 50, retries: 1 });
      const retries: number[] = [];
      retried.on("retry", (attempt: number) => retries.push(attempt));
      // A retry under the same unique joins the job its first attempt queued; the last timeout removes it.
      const joined = c.submitJob("timed_out", "joined", { timeoutMs: 50, retries: 1, unique: "timed-out-unique" });
      await assert.rejects(retried.result, isTimeout);
      await assert.rejects(joined.result, isTimeout);
      assert.deepEqual(retries, [2]);
      assert.equal(retried.attempts, 2);
      await assertOnlySentinelRuns(c, admin, "timed_out", { servers: own.url }, lazyCancel);
    });
  });

  describe(`gearman library recovery on ${kind.name}`, { skip: kind.skip }, () => {
    it("client and worker recover by themselves when the job server restarts", async () => {
      let server = await kind.start({ jobRetries: 0 });
      const w = new GearmanWorker({ servers: server.url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      const c = new GearmanClient({ ...server.clientOptions(), reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
      try {
        w.register("up", (job) => `up ${job.data}`).start();
        assert.equal((await c.submitJob("up", "1").result).toString(), "up 1");
        const reconnected = new Promise((resolve) => w.once("connect", resolve));
        server = await server.restart();
        await reconnected;
        assert.equal((await c.submitJob("up", "2").result).toString(), "up 2");
      } finally {
        await c.close();
        await w.close();
        await server.stop();
      }
    });

    it("fails over to another job server when one dies with jobs in flight", async () => {
      const a = await kind.start({ jobRetries: 0 });
      const b = await kind.start({ jobRetries: 0 });
      const c = new GearmanClient({ ...clientOptionsFor([a, b]), reconnect: false });
      const w = new GearmanWorker({ servers: [a.url, b.url], concurrency: 4 });
      try {
        let ran = 0;
        w.register("fo", async (job) => {
          ran++;
          await new Promise((resolve) => setTimeout(resolve, 2));
          return job.data;
        }).start();
        const jobs = Array.from({ length: 40 }, (_, i) => c.submitJob("fo", String(i)));
        await Promise.all(jobs.map((job) => new Promise((resolve) => job.once("created", resolve))));
        await a.kill();
        const results = await Promise.all(jobs.map((job) => job.result));
        assert.deepEqual(
          results.map(String),
          jobs.map((_, i) => String(i)),
        );
        assert.ok(ran >= 40);
      } finally {
        await c.close();
        await w.close();
        await a.stop();
        await b.stop();
      }
    });

    it("failovers: 0 rejects a job whose server is lost with CONNECTION at once, with no failover", async () => {
      const a = await kind.start({ jobRetries: 0 });
      const b = await kind.start({ jobRetries: 0 });
      const c = new GearmanClient({ servers: [a.url, b.url], reconnect: false, maxFailovers: 3 });
      try {
        await eventually(() => c.connectedServers.length === 2, 5000, "both servers connected");
        const job = c.submitJob("nobody_serves_failover", "zero", { failovers: 0 });
        // Round robin over two servers: one of these two lands where `job` does, and keeps the client's maxFailovers.
        const others = [
          c.submitJob("nobody_serves_failover", "default 1"),
          c.submitJob("nobody_serves_failover", "default 2"),
        ];
        const failedOver = new Promise<string>((resolve) =>
          job.once("failover", (from: string, to: string) => resolve(`failed over from ${from} to ${to}`)),
        );
        await Promise.all([job, ...others].map(created));
        const neighbour = others.find((other) => other.server === job.server)!;
        const movedTo = new Promise<string>((resolve) =>
          neighbour.once("failover", (_from: string, to: string) => resolve(to)),
        );
        const [lost, kept] = job.server === a.url ? [a, b] : [b, a];
        await lost.kill();
        const outcome = await Promise.race([
          job.result.then(
            () => "completed",
            (error: unknown) => error,
          ),
          failedOver,
        ]);
        assert.ok(
          outcome instanceof GearmanError &&
            outcome.code === "CONNECTION" &&
            /lost its job server once/.test(outcome.message),
          String(outcome),
        );
        assert.equal(job.attempts, 1);
        assert.equal(await movedTo, kept.url, "a job without the override failed over to the other server");
      } finally {
        await c.close();
        await a.stop();
        await b.stop();
      }
    });
  });
}

describe("gearman client against a server that sends garbage", () => {
  it("fails the connection with a PROTOCOL error and never crashes", async () => {
    const garbage = net.createServer((socket) =>
      socket.on("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n")),
    );
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    const { port } = garbage.address() as net.AddressInfo;
    const c = new GearmanClient({
      servers: `127.0.0.1:${port}`,
      reconnect: { initialDelayMs: 5, maxDelayMs: 10 },
      maxFailovers: 2,
    });
    const disconnects: GearmanError[] = [];
    c.on("disconnect", (_server: string, error: GearmanError) => disconnects.push(error));
    try {
      await assert.rejects(
        c.submitJob("anything", "x").result,
        (e: unknown) => e instanceof GearmanError && e.code === "CONNECTION",
      );
      assert.ok(
        disconnects.some((e) => e.code === "PROTOCOL" || /magic|unexpected/.test(e.message)),
        disconnects.map((e) => e.message).join("; "),
      );
    } finally {
      await c.close();
      await new Promise((resolve) => garbage.close(resolve));
    }
  });
});

describe("a JobServer in this process, reached through the client's open", () => {
  it("a cancelled job leaves the queue (the cancel goes in-process too) and never reaches a worker", async (t) => {
    const server = new JobServer({ port: 0 });
    const { port } = await server.listen();
    // Nothing listens at the client's address: a cancel sent over TCP instead of `open` would be lost.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const c = new GearmanClient({ servers: nowhere, open: () => server.connectInProcess() });
    const admin = new AdminClient(nowhere, { open: () => server.connectInProcess() });
    t.after(async () => {
      await c.close();
      await admin.close();
      await server.close();
    });
    const job = c.submitJob("in_process_cancel", "doomed");
    await created(job);
    job.cancel();
    await assert.rejects(job.result, (e: unknown) => (e as GearmanError).code === "ABORTED");
    await assertOnlySentinelRuns(c, admin, "in_process_cancel", { servers: `127.0.0.1:${port}` }, false);
  });
});

describe("GearmanClient options and arguments", () => {
  const isArgumentError = (pattern: RegExp) => (e: unknown) =>
    e instanceof ArgumentError && e.code === "BAD_ARGUMENT" && pattern.test(e.message);
  const servers = "127.0.0.1:1";

  it("a bad or unknown client option is an ArgumentError naming it", () => {
    const bad = (options: unknown, pattern: RegExp) =>
      assert.throws(() => new GearmanClient(options as never), isArgumentError(pattern));
    bad(
      { servers, connectTimeoutMs: 0 },
      /^GearmanClient option connectTimeoutMs: expected a whole number ≥ 1, got 0$/,
    );
    bad({ servers, maxFailovers: -1 }, /^GearmanClient option maxFailovers: /);
    bad({ servers, noServerTimeoutMs: "10" }, /^GearmanClient option noServerTimeoutMs: .*"10"/);
    bad({ servers, maxPacketSize: 1.5 }, /^GearmanClient option maxPacketSize: /);
    bad({ servers, exceptions: "yes" }, /^GearmanClient option exceptions: expected true or false/);
    bad({ servers, clientId: "two words" }, /^GearmanClient option clientId: /);
    bad(
      { servers, reconnect: { initialDelayMs: 0, maxDelayMs: 10 } },
      /^GearmanClient option reconnect\.initialDelayMs: /,
    );
    bad(
      { servers, reconnect: { initialDelayMs: 10, maxDelay: 10 } },
      /^GearmanClient option reconnect\.maxDelay: unknown option \(did you mean "maxDelayMs"\?\); known: initialDelayMs, maxDelayMs$/,
    );
    bad({ servers, tls: { ca: 42 } }, /^GearmanClient option tls\.ca: /);
    bad({ servers, tls: { cert: "PEM" } }, /^GearmanClient option tls: cert and key go together/);
    bad({ servers, open: "in-process" }, /^GearmanClient option open: expected a function/);
    bad({ servers: "127.0.0.1:99999" }, /^GearmanClient option servers: "127.0.0.1:99999" has a bad port/);
    bad({ servers: [] }, /^GearmanClient option servers: no job server address given$/);
    bad({ servers: 4730 }, /^GearmanClient option servers: expected "host:port"/);
    bad(
      { servers, maxFailover: 1 },
      /^GearmanClient option maxFailover: unknown option \(did you mean "maxFailovers"\?\); known: servers, clientId, .*, maxFailovers$/,
    );
    bad(undefined, /^GearmanClient options: expected an object with servers, got undefined$/);
  });

  it("a bad submission is an ArgumentError naming the argument, and sends nothing", async () => {
    const c = new GearmanClient({ servers, reconnect: false });
    try {
      const bad = (submit: () => unknown, pattern: RegExp) => assert.throws(submit, isArgumentError(pattern));
      bad(() => c.submitJob("", "x"), /^submitJob function: /);
      bad(() => c.submitJob("f\0g", "x"), /^submitJob function: /);
      bad(() => c.submitJob("f", 42 as never), /^submitJob data: expected a Buffer, Uint8Array or string, got number$/);
      bad(() => c.submitJob("f", "x", { timeoutMs: 0 }), /^submitJob option timeoutMs: /);
      bad(() => c.submitJob("f", "x", { retries: -1 }), /^submitJob option retries: /);
      bad(() => c.submitJob("f", "x", { failovers: 1.5 }), /^submitJob option failovers: /);
      bad(() => c.submitJob("f", "x", { priority: "urgent" as never }), /^submitJob option priority: /);
      bad(() => c.submitJob("f", "x", { unique: "a\0b" }), /^submitJob option unique: /);
      bad(() => c.submitJob("f", "x", { signal: {} as never }), /^submitJob option signal: expected an AbortSignal/);
      bad(
        () => c.submitJob("f", "x", { timout: 5 } as never),
        /^submitJob option timout: unknown option; known: unique, priority, timeoutMs, signal, retries, failovers$/,
      );
      bad(() => c.submitBackground("f", "x", { epoch: -1 }), /^submitBackground option epoch: /);
      bad(
        () => c.submitBackground("f", "x", { timeoutMs: 5 } as never),
        /^submitBackground option timeoutMs: unknown option/,
      );
      await assert.rejects(c.echo(7 as never), isArgumentError(/^echo data: /));
    } finally {
      await c.close();
    }
  });
});
