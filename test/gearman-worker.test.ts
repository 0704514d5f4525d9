/**
 * GearmanWorker against every job server kind: the grab loop and its
 * concurrency limit, what a job sends back, a worker process killed mid-job,
 * a job server restarted under it, CAN_DO_TIMEOUT, unregistering and graceful
 * stop. Clients are a raw-socket client written here (to see the exact
 * packets) and GearmanClient.
 */
import { describe, it, before, after, type TestContext } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import { GearmanClient, GearmanWorker, AdminClient, ArgumentError, type WorkerJob } from "../lib/gearman/index.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";
import { ServerConnection } from "../lib/gearman/connection.js";
import { encodePacket, type Packet } from "../lib/gearman/packet.js";
import { jobServerKinds, type RunningJobServer } from "./support/job-servers.js";
import { startLineProcess, eventually } from "./support/gearman.js";

const FIXTURE_WORKER = fileURLToPath(new URL("./fixtures/gearman-worker.js", import.meta.url));

/** A client on a bare socket: submits jobs and records every packet the server sends back. */
class RawClient {
  readonly packets: Packet[] = [];
  private readonly socket: net.Socket;
  private readonly waiters = new Set<() => void>();

  constructor(server: RunningJobServer) {
    this.socket = net.connect({ host: server.host, port: server.port });
    const decoder = new FrameDecoder({
      expect: "RES",
      maxPacketSize: 1 << 20,
      peer: server.url,
      onPacket: (packet) => {
        this.packets.push(packet);
        for (const wake of this.waiters) wake();
      },
    });
    this.socket.on("data", (chunk) => decoder.push(chunk));
    this.socket.on("error", () => {});
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Resolves with the packets up to and including the first one named `name`. */
  until(name: string, limitMs = 10_000): Promise<Packet[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const at = this.packets.findIndex((p) => p.name === name);
        if (at < 0) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve(this.packets.splice(0, at + 1));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${name} within ${limitMs} ms; got ${this.packets.map((p) => p.name).join(", ")}`));
      }, limitMs);
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Handlers that block until the test lets them go, counting how many run at once. */
class Gate {
  running = 0;
  peak = 0;
  readonly held: { job: WorkerJob; release: (result?: string) => void }[] = [];
  private readonly waiters = new Set<() => void>();

  readonly handler = (job: WorkerJob): Promise<string> => {
    this.running++;
    this.peak = Math.max(this.peak, this.running);
    return new Promise((resolve) => {
      this.held.push({
        job,
        release: (result = `done ${job.data}`) => {
          this.running--;
          resolve(result);
        },
      });
      this.changed();
    });
  };

  private changed(): void {
    for (const wake of this.waiters) wake();
  }

  /** Resolves once `count` jobs are held (bounded). */
  untilHeld(count: number, limitMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.held.length < count) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.held.length} jobs held, expected ${count}, within ${limitMs} ms`));
      }, limitMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Releases the oldest held job. */
  releaseOne(result?: string): WorkerJob {
    const next = this.held.shift();
    assert.ok(next, "no job held");
    next.release(result);
    return next.job;
  }
}

const fastReconnect = { initialDelayMs: 20, maxDelayMs: 200 };

function statusOf(admin: AdminClient, func: string) {
  return admin.status().then((all) => all.find((s) => s.func === func));
}

/** A job server on a bare socket whose replies the test writes: sees every packet the worker sends, in order. */
class ScriptedJobServer {
  readonly packets: Packet[] = [];
  private socket: net.Socket | undefined;
  private readonly server = net.createServer((socket) => {
    this.socket = socket;
    const decoder = new FrameDecoder({
      expect: "REQ",
      maxPacketSize: 1 << 20,
      peer: "worker",
      onPacket: (packet) => this.packets.push(packet),
    });
    socket.on("data", (chunk) => decoder.push(chunk));
    socket.on("error", () => {});
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  reply(bytes: Buffer): void {
    this.socket!.write(bytes);
  }

  /** The names of the packets the worker sent, from the first of `from` on. */
  names(from = 0): string[] {
    return this.packets.slice(from).map((p) => p.name);
  }

  count(name: string): number {
    return this.packets.filter((p) => p.name === name).length;
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe("GearmanWorker grabs on one connection", () => {
  /**
   * A worker of concurrency 3 on a scripted server for `func`, after its first job ran to its end:
   * no job running, two grabs out (one sent when the job started, one with its result).
   */
  const twoGrabsOut = async (t: TestContext, func: string) => {
    const scripted = new ScriptedJobServer();
    const gate = new Gate();
    const w = new GearmanWorker({ servers: await scripted.listen(), concurrency: 3 });
    t.after(async () => {
      await w.close();
      await scripted.close();
    });
    w.register(func, gate.handler).start();
    await eventually(() => scripted.count("GRAB_JOB_UNIQ") === 1, 10_000, "the first grab");
    const assign = (n: number) =>
      scripted.reply(encodePacket("RES", "JOB_ASSIGN_UNIQ", { handle: `H:${n}`, func, unique: "", data: `j${n}` }));
    assign(1);
    await gate.untilHeld(1);
    // One job running, one grab out (sent when the job started): the third slot waits for that grab's answer.
    await eventually(() => scripted.count("GRAB_JOB_UNIQ") === 2, 10_000, "a grab for the second slot");
    gate.releaseOne();
    // The finished job's slot is asked for with its result, while the second grab is still unanswered.
    await eventually(
      () => scripted.count("GRAB_JOB_UNIQ") === 3,
      10_000,
      "a grab for the freed slot beside the unanswered one",
    );
    return { scripted, gate, w, assign };
  };

  it("asks for a finished job's successor at once, beside a grab still unanswered; after NO_JOBs held grabs back, the next job brings a grab for every free slot; sleeps only once every grab is answered", async (t) => {
    const { scripted, gate, w, assign } = await twoGrabsOut(t, "piped");
    assert.deepEqual(scripted.names().slice(-2), ["WORK_COMPLETE", "GRAB_JOB_UNIQ"]);
    const before = scripted.packets.length;
    scripted.reply(encodePacket("RES", "NO_JOB", {}));
    // One grab still out: no PRE_SLEEP yet, and no new grab on a server that just said it has nothing. Then a
    // job comes: the server has jobs again, so both free slots are asked for (the NO_JOB's one is not lost).
    assign(2);
    await gate.untilHeld(1);
    await eventually(() => scripted.count("GRAB_JOB_UNIQ") === 5, 10_000, "grabs for both free slots");
    assert.deepEqual(
      scripted.names(before),
      ["GRAB_JOB_UNIQ", "GRAB_JOB_UNIQ"],
      "after NO_JOB with a grab out: no PRE_SLEEP, and the grabs follow the job that came, one per free slot",
    );
    scripted.reply(Buffer.concat([encodePacket("RES", "NO_JOB", {}), encodePacket("RES", "NO_JOB", {})]));
    await eventually(() => scripted.count("PRE_SLEEP") === 1, 10_000, "PRE_SLEEP once the last grab is answered");
    assert.deepEqual(scripted.names(before), ["GRAB_JOB_UNIQ", "GRAB_JOB_UNIQ", "PRE_SLEEP"]);
    assert.equal(w.asleep, true);
    gate.releaseOne();
    await eventually(() => scripted.count("WORK_COMPLETE") === 2, 10_000, "the second job's result");
    assert.equal(scripted.count("GRAB_JOB_UNIQ"), 5, "asleep: a freed slot sends no grab until NOOP");
    scripted.reply(encodePacket("RES", "NOOP", {}));
    await eventually(() => scripted.count("GRAB_JOB_UNIQ") === 6, 10_000, "a grab after NOOP");
  });

  it("after a NO_JOB with a grab still out, a function registered grabs at once (a server wakes no one for jobs already queued under a new ability)", async (t) => {
    const { scripted, gate, w } = await twoGrabsOut(t, "first");
    // An ERROR behind the NO_JOB, in the same write: once the worker reports it, the NO_JOB was read.
    const errored = new Promise((resolve) => w.once("error", resolve));
    scripted.reply(
      Buffer.concat([
        encodePacket("RES", "NO_JOB", {}),
        encodePacket("RES", "ERROR", { code: "marker", text: "after NO_JOB" }),
      ]),
    );
    await errored;
    const before = scripted.packets.length;
    w.register("second", gate.handler);
    await eventually(() => scripted.count("GRAB_JOB_UNIQ") === 4, 10_000, "a grab after CAN_DO");
    assert.deepEqual(scripted.names(before), ["CAN_DO", "GRAB_JOB_UNIQ"]);
  });
});

describe("ServerConnection write gathering", () => {
  /** Writes on an opened stream, one entry per write call the connection made (a writev counts once). */
  const recordWrites = async (gatherWrites: (() => boolean) | undefined) => {
    const writes: string[][] = [];
    const stream = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, done) {
        writes.push([chunk.toString()]);
        done();
      },
      writev(chunks, done) {
        writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
        done();
      },
    });
    const connection = new ServerConnection(
      { host: "scripted", port: 1 },
      // No probe: it would be one more write.
      { open: () => stream, gatherWrites, onPacket: () => {}, reconnect: false, probe: false },
    );
    connection.open();
    stream.emit("connect");
    await new Promise((resolve) => setImmediate(resolve));
    connection.send(Buffer.from("a"));
    // Sent in a later tick of the same event-loop turn, as a second job's result is.
    process.nextTick(() => connection.send(Buffer.from("b")));
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
    stream.destroy();
    return writes;
  };

  it("writes what one tick queued at its end; with gatherWrites, what one event-loop turn queued in one write", async () => {
    assert.deepEqual(await recordWrites(undefined), [["a"], ["b"]]);
    assert.deepEqual(await recordWrites(() => false), [["a"], ["b"]]);
    assert.deepEqual(await recordWrites(() => true), [["a", "b"]]);
  });
});

describe("GearmanWorker options", () => {
  it("rejects bad options with errors naming the option", () => {
    assert.throws(() => new GearmanWorker({ servers: "127.0.0.1:1", concurrency: 0 }), /concurrency/);
    assert.throws(() => new GearmanWorker({ servers: "127.0.0.1:1", concurrency: 1.5 }), /concurrency/);
    assert.throws(() => new GearmanWorker({ servers: "127.0.0.1:1", clientId: "has space" }), /clientId/);
    assert.throws(() => new GearmanWorker({ servers: "127.0.0.1:99999" }), /bad port/);
    assert.throws(() => new GearmanWorker({ servers: [] }), /no job server/);
    const worker = new GearmanWorker({ servers: "127.0.0.1:1" });
    assert.throws(() => worker.register("", () => ""), /function name/);
    assert.throws(() => worker.register("f", "not a function" as never), /handler/);
    assert.throws(() => worker.register("f", () => "", { timeoutMs: 0 }), /timeoutMs/);
    assert.throws(() => worker.setConcurrency(-1), /concurrency/);
  });

  it("every bad option or argument is an ArgumentError; an unknown option lists the known ones", async () => {
    const isArgumentError = (pattern: RegExp) => (e: unknown) =>
      e instanceof ArgumentError && e.code === "BAD_ARGUMENT" && pattern.test(e.message);
    assert.throws(
      () => new GearmanWorker({ servers: "127.0.0.1:1", concurency: 2 } as never),
      isArgumentError(
        /^GearmanWorker option concurency: unknown option \(did you mean "concurrency"\?\); known: servers, clientId, .*concurrency/,
      ),
    );
    assert.throws(
      () => new GearmanWorker({ servers: "127.0.0.1:1", connectTimeoutMs: -5 }),
      isArgumentError(/^GearmanWorker option connectTimeoutMs: /),
    );
    assert.throws(
      () => new GearmanWorker({ servers: "127.0.0.1:1", tls: "yes" as never }),
      isArgumentError(/^GearmanWorker option tls: /),
    );
    assert.throws(() => new GearmanWorker(null as never), isArgumentError(/^GearmanWorker options: /));
    const worker = new GearmanWorker({ servers: "127.0.0.1:1" });
    assert.throws(
      () => worker.register("f", () => "", { timeout: 5 } as never),
      isArgumentError(/option timeout: unknown option \(did you mean "timeoutMs"\?\); known: timeoutMs$/),
    );
    assert.throws(() => worker.register("", () => ""), isArgumentError(/^GearmanWorker.register function: /));
    assert.throws(() => worker.unregister(""), isArgumentError(/^GearmanWorker.unregister function: /));
    await assert.rejects(worker.stop({ deadlineMs: -1 }), isArgumentError(/^GearmanWorker.stop option deadlineMs: /));
  });
});

for (const kind of jobServerKinds()) {
  describe(`GearmanWorker on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    const closers: (() => unknown)[] = [];
    const later = <T extends { close(): unknown }>(thing: T): T => {
      closers.push(() => thing.close());
      return thing;
    };
    const worker = (options: Partial<ConstructorParameters<typeof GearmanWorker>[0]> = {}) =>
      later(new GearmanWorker({ servers: server.url, reconnect: fastReconnect, ...options }));
    const client = () => later(new GearmanClient(server.clientOptions()));
    const admin = () => later(new AdminClient(server.url));

    before(async () => {
      server = await kind.start({ jobRetries: 3 });
    });
    after(async () => {
      for (const close of closers.splice(0).reverse()) await Promise.resolve(close()).catch(() => {});
      await server.stop();
    });

    it("asleep on one server, gets its next job without a NOOP and a grab from ours, and parks its free slot without NO_JOB (gearmand refuses the option, silently); pause and stop give the parked slot up", async () => {
      const sent: string[] = [];
      const errors: Error[] = [];
      const w = worker({
        // A socket whose writes are read back as packets: what the worker sends, in order (liveness probes aside).
        open: () => {
          const socket = net.connect({ host: server.host, port: server.port });
          const decoder = new FrameDecoder({
            expect: "REQ",
            onPacket: (packet) => packet.name !== "ECHO_REQ" && sent.push(packet.name),
          });
          const write = socket.write.bind(socket) as (chunk: Buffer, ...rest: unknown[]) => boolean;
          socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
            decoder.push(Buffer.from(chunk));
            return write(chunk, ...rest);
          }) as typeof socket.write;
          return socket;
        },
      });
      w.on("error", (error: Error) => errors.push(error));
      w.register("parked", (job) => `done ${job.data}`).start();
      const c = client();
      for (const n of [1, 2]) {
        await eventually(() => w.asleep, 10_000, `asleep before job ${n}`);
        sent.length = 0;
        assert.equal((await c.submitJob("parked", String(n)).result).toString(), `done ${n}`);
        await eventually(() => w.asleep, 10_000, `asleep after job ${n}`);
        const ours = kind.name !== "gearmand";
        assert.deepEqual(
          sent,
          ours ? ["WORK_COMPLETE", "PRE_SLEEP"] : ["GRAB_JOB_UNIQ", "WORK_COMPLETE", "GRAB_JOB_UNIQ", "PRE_SLEEP"],
          ours
            ? "the job came for the parked slot, which is parked again once free"
            : "NOOP, a grab; once free, a grab, NO_JOB and PRE_SLEEP",
        );
      }
      sent.length = 0;
      w.pause();
      w.resume();
      assert.equal((await c.submitJob("parked", "3").result).toString(), "done 3", "served again after a pause");
      await eventually(() => w.asleep, 10_000, "asleep before stopping");
      sent.length = 0;
      await w.stop({ deadlineMs: 600_000 }); // a parked slot left out would hold stop() until this deadline
      assert.deepEqual(sent, kind.name === "gearmand" ? [] : ["OPTION_REQ"], "stop unparks on ours");
      assert.deepEqual(errors, [], "gearmand's refusal of the option is no error");
    });

    it("never runs more jobs than its concurrency, across several servers", async () => {
      const second = await kind.start({ jobRetries: 3 });
      closers.push(() => second.stop());
      const gate = new Gate();
      const w = worker({ servers: [server.url, second.url], concurrency: 3 });
      w.register("limited", gate.handler).start();
      const c1 = client();
      const c2 = later(new GearmanClient(second.clientOptions()));
      const results = [
        ...Array.from({ length: 5 }, (_, i) => c1.submitJob("limited", `a${i}`).result),
        ...Array.from({ length: 5 }, (_, i) => c2.submitJob("limited", `b${i}`).result),
      ];
      for (let done = 0; done < 10; done++) {
        await gate.untilHeld(Math.min(3, 10 - done));
        assert.ok(w.running <= 3, `worker reports ${w.running} running`);
        gate.releaseOne();
      }
      const values = (await Promise.all(results)).map(String).sort();
      assert.deepEqual(
        values,
        [
          ...Array.from({ length: 5 }, (_, i) => `done a${i}`),
          ...Array.from({ length: 5 }, (_, i) => `done b${i}`),
        ].sort(),
      );
      assert.equal(gate.peak, 3, "three jobs (several on one connection) ran at once, never more");
    });

    it("with concurrency 1 and two servers, serves a job queued only on the second", async () => {
      const second = await kind.start({ jobRetries: 3 });
      closers.push(() => second.stop());
      const w = worker({ servers: [server.url, second.url], concurrency: 1 });
      w.register("second_only", (job) => `served ${job.data}`).start();
      await new Promise((resolve) => w.once("connect", resolve));
      const result = await later(new GearmanClient(second.clientOptions())).submitJob("second_only", "x").result;
      assert.equal(result.toString(), "served x");
    });

    it("sends status, data and warning, then the result, in order", async () => {
      worker()
        .register("chatty", (job) => {
          job.sendStatus(1, 4);
          job.sendData("part one");
          job.sendWarning("mind the gap");
          job.sendStatus(4, 4);
          return Buffer.from([0, 1, 2]);
        })
        .start();
      const raw = later(new RawClient(server));
      raw.send(encodePacket("REQ", "SUBMIT_JOB", { func: "chatty", unique: "", data: "in" }));
      const packets = await raw.until("WORK_COMPLETE");
      assert.deepEqual(
        packets.map((p) => p.name),
        ["JOB_CREATED", "WORK_STATUS", "WORK_DATA", "WORK_WARNING", "WORK_STATUS", "WORK_COMPLETE"],
      );
      const handle = packets[0].args("JOB_CREATED").handle;
      assert.deepEqual(packets[1].args("WORK_STATUS"), { handle, numerator: "1", denominator: "4" });
      assert.equal(packets[2].args("WORK_DATA").data.toString(), "part one");
      assert.equal(packets[3].args("WORK_WARNING").data.toString(), "mind the gap");
      assert.deepEqual([...packets[5].args("WORK_COMPLETE").data], [0, 1, 2]);
    });

    it("a throw becomes WORK_EXCEPTION with the stack; fail() WORK_FAIL; the first terminal call wins", async () => {
      worker()
        .register("throws", () => {
          throw new RangeError("dial past eleven");
        })
        .register("fails", (job) => {
          job.fail();
          job.complete("ignored");
          return "ignored too";
        })
        .register("bad_result", () => ({ not: "bytes" }))
        .start();
      const raw = later(new RawClient(server));
      raw.send(encodePacket("REQ", "OPTION_REQ", { option: "exceptions" }));
      await raw.until("OPTION_RES");
      raw.send(encodePacket("REQ", "SUBMIT_JOB", { func: "throws", unique: "", data: "" }));
      const thrown = (await raw.until("WORK_EXCEPTION")).at(-1)!.args("WORK_EXCEPTION").data.toString();
      assert.match(thrown, /^RangeError: dial past eleven\n\s+at /);
      raw.send(encodePacket("REQ", "SUBMIT_JOB", { func: "fails", unique: "", data: "" }));
      const failed = await raw.until("WORK_FAIL");
      assert.ok(!failed.some((p) => p.name === "WORK_COMPLETE"), failed.map((p) => p.name).join());
      raw.send(encodePacket("REQ", "SUBMIT_JOB", { func: "bad_result", unique: "", data: "" }));
      assert.match(
        (await raw.until("WORK_EXCEPTION")).at(-1)!.args("WORK_EXCEPTION").data.toString(),
        /bad_result returned object/,
      );
      // A later job on the same connection shows nothing stray followed the WORK_FAIL.
      raw.send(encodePacket("REQ", "SUBMIT_JOB", { func: "fails", unique: "", data: "" }));
      assert.deepEqual(
        (await raw.until("WORK_FAIL")).map((p) => p.name),
        ["JOB_CREATED", "WORK_FAIL"],
      );
    });

    it("a worker process killed mid-job: another worker completes the job", async () => {
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

    // CAN_DO_TIMEOUT tests get a job server each: gearmand keeps timing out a
    // held job's repeats, and its CAN_DO_TIMEOUT handling has hung before.
    const ownServer = async () => {
      const own = await kind.start({ jobRetries: 3 });
      closers.push(() => own.stop());
      return own;
    };

    it("CAN_DO_TIMEOUT: registered with the timeout, the job's signal aborts when it elapses", async () => {
      const own = await ownServer();
      const a = later(new AdminClient(own.url));
      const w = worker({ servers: own.url, clientId: "timeout-worker" });
      // The handler ignores the abort and holds its slot, so the worker takes no repeat of the job.
      const aborted = new Promise<unknown>((resolve) => {
        w.register(
          "slow_fn",
          (job) => new Promise(() => job.signal.addEventListener("abort", () => resolve(job.signal.reason))),
          { timeoutMs: 1000 },
        );
      });
      w.start();
      await eventually(
        async () => (await a.workers()).some((x) => x.clientId === "timeout-worker" && x.functions.includes("slow_fn")),
        5000,
        "worker to register slow_fn",
      );
      const job = later(new GearmanClient(own.clientOptions())).submitJob("slow_fn", "");
      job.result.catch(() => {});
      const reason = (await aborted) as { code?: string; message: string };
      assert.equal(reason.code, "TIMEOUT", reason.message);
      assert.match(reason.message, /slow_fn/);
    });

    it("CAN_DO_TIMEOUT: the server takes the job back after the timeout and gives it to another worker", async () => {
      const own = await ownServer();
      const slow = worker({ servers: own.url, concurrency: 1 });
      const taken = new Promise<void>((resolve) =>
        slow.register(
          "handed_over",
          () => {
            resolve();
            return new Promise(() => {});
          },
          { timeoutMs: 1000 },
        ),
      );
      slow.start();
      const job = later(new GearmanClient(own.clientOptions())).submitJob("handed_over", "x");
      await taken;
      worker({ servers: own.url })
        .register("handed_over", (j) => `second worker ${j.data}`)
        .start();
      assert.equal((await job.result).toString(), "second worker x");
    });

    it("unregister and unregisterAll stop it from taking jobs of those functions", async () => {
      const a = admin();
      const w = worker({ clientId: "unregister-worker" });
      w.register("keep_fn", (job) => `kept ${job.data}`)
        .register("drop_fn", (job) => `dropped ${job.data}`)
        .start();
      const mine = async () => (await a.workers()).find((x) => x.clientId === "unregister-worker");
      await eventually(async () => (await mine())?.functions.length === 2, 5000, "both functions registered");
      w.unregister("drop_fn");
      await eventually(async () => (await mine())?.functions.join() === "keep_fn", 5000, "drop_fn unregistered");
      const c = client();
      const dropped = c.submitJob("drop_fn", "1");
      await new Promise((resolve) => dropped.once("created", resolve));
      assert.equal((await c.submitJob("keep_fn", "2").result).toString(), "kept 2");
      assert.deepEqual(await statusOf(a, "drop_fn"), { func: "drop_fn", total: 1, running: 0, workers: 0 });
      w.unregisterAll();
      await eventually(async () => (await mine())?.functions.length === 0, 5000, "every function unregistered");
      w.register("drop_fn", (job) => `back ${job.data}`);
      assert.equal((await dropped.result).toString(), "back 1");
    });

    it("graceful stop finishes running jobs and takes no new ones", async () => {
      const a = admin();
      const gate = new Gate();
      const w = worker({ concurrency: 2 });
      w.register("graceful", gate.handler).start();
      const c = client();
      const first = c.submitJob("graceful", "1");
      const second = c.submitJob("graceful", "2");
      await gate.untilHeld(2);
      let stopped = false;
      const stopping = w.stop().then(() => (stopped = true));
      const third = c.submitJob("graceful", "3");
      await new Promise((resolve) => third.once("created", resolve));
      gate.releaseOne();
      assert.equal((await first.result).toString(), "done 1");
      assert.equal(stopped, false, "stop waits for the second job");
      assert.deepEqual(await statusOf(a, "graceful"), { func: "graceful", total: 2, running: 1, workers: 1 });
      gate.releaseOne();
      assert.equal((await second.result).toString(), "done 2");
      await stopping;
      assert.equal(gate.held.length, 0, "the stopping worker took no new job");
      await eventually(async () => (await statusOf(a, "graceful"))?.workers === 0, 5000, "stopped worker to leave");
      worker()
        .register("graceful", (job) => `after stop ${job.data}`)
        .start();
      assert.equal((await third.result).toString(), "after stop 3");
    });

    it("a stop past its deadline abandons the running job: signal aborted, result discarded, job requeued", async () => {
      const gate = new Gate();
      const w = worker();
      w.register("overrun", gate.handler).start();
      const job = client().submitJob("overrun", "x");
      await gate.untilHeld(1);
      const held = gate.held[0].job;
      await w.stop({ deadlineMs: 100 });
      assert.equal(held.signal.aborted, true);
      assert.equal((held.signal.reason as { code?: string }).code, "CLOSED");
      gate.releaseOne("too late");
      worker()
        .register("overrun", (j) => `requeued ${j.data}`)
        .start();
      assert.equal((await job.result).toString(), "requeued x");
    });
  });

  describe(`GearmanWorker recovery on ${kind.name}`, { skip: kind.skip }, () => {
    it("a restarted job server: held jobs are abandoned, worker and client reconnect, register again and finish new jobs", async () => {
      let server = await kind.start({ jobRetries: 3 });
      const w = new GearmanWorker({
        servers: server.url,
        clientId: "restart-worker",
        concurrency: 2,
        reconnect: fastReconnect,
      });
      const c = new GearmanClient({ ...server.clientOptions(), reconnect: fastReconnect, maxFailovers: 0 });
      const a = new AdminClient(server.url);
      try {
        const gate = new Gate();
        w.register("up", (job) => (job.data.toString() === "hold" ? gate.handler(job) : `up ${job.data}`)).start();
        assert.equal((await c.submitJob("up", "1").result).toString(), "up 1");
        const lost = c.submitJob("up", "hold");
        lost.result.catch(() => {});
        await gate.untilHeld(1);
        const held = gate.held[0].job;
        const reconnected = new Promise((resolve) => w.once("connect", resolve));
        server = await server.restart();
        await reconnected;
        assert.equal(held.signal.aborted, true);
        assert.equal((held.signal.reason as { code?: string }).code, "CONNECTION");
        gate.releaseOne();
        await eventually(() => w.running === 0, 5000, "the abandoned job's handler to settle and free its slot");
        assert.equal((await c.submitJob("up", "2").result).toString(), "up 2");
        const registered = (await a.workers()).find((x) => x.clientId === "restart-worker");
        assert.deepEqual(registered?.functions, ["up"]);
      } finally {
        await a.close();
        await c.close();
        await w.close();
        await server.stop();
      }
    });
  });
}
