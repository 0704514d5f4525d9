/**
 * The job server's Scheduler through its own interface, with no sockets:
 * each connection is a recorder of the packets the scheduler sends it, and
 * a worker's WORK_* packets go through dispatchRequest, which decodes them
 * as the server does. (The same behaviour over real sockets, on gearmand too, is in
 * gearman-library.test.ts, gearman-admin.test.ts and job-server.test.ts.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { Scheduler } from "../lib/server/scheduler.js";
import type { SubmitRequest } from "../lib/server/job-book.js";
import { dispatchRequest } from "../lib/server/dispatch.js";
import { WIDENING } from "../lib/server/sleeping-workers.js";
import { Priority, type Session } from "../lib/server/scheduler-state.js";
import { fillServerOptions, type JobServerOptions } from "../lib/server/server-options.js";
import type { Connection, PacketArg } from "../lib/server/connection.js";
import { PacketType, packetName } from "../lib/gearman/index.js";
import { encodeRaw, Packet } from "../lib/gearman/packet.js";

interface Sent {
  readonly name: string;
  readonly args: string[];
}

/** A connection that keeps what it is sent; `next(name)` waits for a packet of that name. */
class Recorder implements Connection {
  readonly sent: Sent[] = [];
  private waiters: { name: string; resolve: (sent: Sent) => void }[] = [];
  /** Called for every packet, with this recorder's address. */
  onPacket: ((address: string, sent: Sent) => void) | undefined;
  constructor(readonly address: string) {}

  packet(type: number, ...args: (PacketArg | undefined)[]): void {
    this.record({
      name: packetName(type)!,
      args: args.filter((a) => a !== undefined).map((a) => (typeof a === "string" ? a : a.toString("latin1"))),
    });
  }

  forward(packet: Packet): void {
    this.record({ name: packetName(packet.type)!, args: packet.body.toString("latin1").split("\0") });
  }

  private record(sent: Sent): void {
    this.sent.push(sent);
    this.onPacket?.(this.address, sent);
    this.waiters = this.waiters.filter((w) => (w.name === sent.name ? (w.resolve(sent), false) : true));
  }

  /** Everything sent since the last take(). */
  take(): Sent[] {
    return this.sent.splice(0);
  }

  names(): string[] {
    return this.take().map((s) => s.name);
  }

  next(name: string): Promise<Sent> {
    return new Promise((resolve) => this.waiters.push({ name, resolve }));
  }
}

/** Waits for `promise` while keeping the process alive: the scheduler's timers do not (a server's listening socket does). */
async function alive<T>(promise: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1000);
  try {
    return await promise;
  } finally {
    clearInterval(keep);
  }
}

interface Party {
  readonly session: Session;
  readonly out: Recorder;
}

function setup(options: JobServerOptions = {}) {
  const scheduler = new Scheduler(fillServerOptions({ handlePrefix: "test", ...options }, "unused"));
  let n = 0;
  const connect = (): Party => {
    const out = new Recorder(`recorder:${++n}`);
    return { session: scheduler.open(out), out };
  };
  const job = (func: string, data: string, more: Partial<SubmitRequest> = {}): SubmitRequest => ({
    func,
    unique: "",
    data,
    priority: Priority.Normal,
    background: false,
    epoch: 0,
    reducer: "",
    ...more,
  });
  /** Submits and returns the handle from JOB_CREATED. */
  const submit = (client: Party, request: SubmitRequest): string => {
    scheduler.submit(client.session, request);
    const reply = client.out.sent.at(-1)!;
    assert.equal(reply.name, "JOB_CREATED", `submit answered ${reply.name} ${reply.args.join(" ")}`);
    client.out.sent.pop();
    return reply.args[0];
  };
  /** A worker of `funcs` that grabbed once (NO_JOB) and sleeps. */
  const sleeper = (...funcs: string[]): Party => {
    const worker = connect();
    for (const func of funcs) scheduler.canDo(worker.session, func, 0);
    scheduler.grab(worker.session, PacketType.GRAB_JOB_UNIQ);
    scheduler.preSleep(worker.session);
    assert.deepEqual(worker.out.names(), ["NO_JOB"]);
    return worker;
  };
  /** GRAB_JOB_UNIQ; returns [handle, function, unique, data], or undefined for NO_JOB. */
  const grab = (worker: Party, type: number = PacketType.GRAB_JOB_UNIQ): string[] | undefined => {
    scheduler.grab(worker.session, type);
    const reply = worker.out.sent.pop()!;
    return reply.name === "NO_JOB" ? undefined : reply.args;
  };
  /** A request packet from `party`, handled as the server handles one it read. */
  const request = (party: Party, type: number, args: string[]) =>
    dispatchRequest(scheduler, party.session, new Packet("REQ", type, encodeRaw("REQ", type, args).subarray(12)));
  const complete = (worker: Party, handle: string, result: string) =>
    request(worker, PacketType.WORK_COMPLETE, [handle, result]);
  /** OPTION_REQ `name` from `party`. */
  const option = (party: Party, name: string) => request(party, PacketType.OPTION_REQ, [name]);
  return { scheduler, connect, job, submit, sleeper, grab, complete, option };
}

describe("Scheduler", () => {
  it("hands out the highest priority first across a worker's functions, in order within a priority", () => {
    const { scheduler, connect, job, submit, grab } = setup();
    const client = connect();
    submit(client, job("f", "low 1", { priority: Priority.Low }));
    submit(client, job("g", "normal 1"));
    submit(client, job("f", "normal 2"));
    submit(client, job("g", "high 1", { priority: Priority.High, background: true }));
    submit(client, job("f", "low 2", { priority: Priority.Low }));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    scheduler.canDo(worker.session, "g", 0);
    const order: string[] = [];
    for (let args; (args = grab(worker)) !== undefined;) order.push(args[3]);
    // Within a priority, the worker's functions in registration order (f before g), each FIFO.
    assert.deepEqual(order, ["high 1", "normal 2", "normal 1", "low 1", "low 2"]);
  });

  it("coalesces a unique within a function: one job, one handle, every client gets the result", () => {
    const { scheduler, connect, job, submit, grab, complete } = setup();
    const [a, b, c] = [connect(), connect(), connect()];
    const first = submit(a, job("f", "payload", { unique: "u1" }));
    assert.equal(submit(b, job("f", "other payload", { unique: "u1" })), first, "same unique: same job");
    assert.notEqual(submit(c, job("g", "payload", { unique: "u1" })), first, "another function: another job");
    assert.equal(
      submit(c, job("f", "x", { unique: "u1", background: true })),
      first,
      "a background submit attaches too, as no client",
    );
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    const [handle, , unique, data] = grab(worker)!;
    assert.deepEqual([handle, unique, data], [first, "u1", "payload"]);
    // Still coalesced while running.
    assert.equal(submit(c, job("f", "late", { unique: "u1" })), first);
    complete(worker, handle, "done");
    for (const client of [a, b, c])
      assert.deepEqual(client.out.take(), [{ name: "WORK_COMPLETE", args: [first, "done"] }]);
    assert.equal(grab(worker), undefined);
    assert.notEqual(submit(a, job("f", "payload", { unique: "u1" })), first, "after the end, the unique is free again");
  });

  it('coalesces unique "-" by payload, apart from a literal unique of the same text', () => {
    const { connect, job, submit } = setup();
    const client = connect();
    const dash = submit(client, job("f", "abc", { unique: "-" }));
    assert.equal(submit(client, job("f", "abc", { unique: "-" })), dash);
    assert.notEqual(submit(client, job("f", "abd", { unique: "-" })), dash);
    assert.notEqual(submit(client, job("f", "zzz", { unique: "abc" })), dash);
  });

  it("refuses a unique over 64 bytes", () => {
    const { scheduler, connect, job } = setup();
    const client = connect();
    scheduler.submit(client.session, job("f", "", { unique: "u".repeat(65) }));
    assert.deepEqual(client.out.take(), [{ name: "ERROR", args: ["ARGUMENT_TOO_LARGE", "Unique value too large"] }]);
  });

  it("holds an epoch job until its time, then wakes a sleeping worker for it", async () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const client = connect();
    const worker = sleeper("later");
    const epoch = Math.ceil(Date.now() / 1000) + 1;
    const handle = submit(client, job("later", "then", { background: true, epoch }));
    submit(client, job("later", "past", { background: true, epoch: 1 })); // long past: queued at once
    assert.deepEqual(worker.out.names(), ["NOOP"]);
    assert.equal(grab(worker)![3], "past");
    assert.equal(grab(worker), undefined, "not before its epoch");
    assert.deepEqual(
      [...scheduler.functions()].map((f) => [f.name, f.scheduled, f.total]),
      [["later", 1, 2]],
    );
    const woken = worker.out.next("NOOP");
    scheduler.preSleep(worker.session);
    await alive(woken);
    assert.ok(Date.now() >= epoch * 1000, "woken before its epoch");
    const [got, , , data] = grab(worker)!;
    assert.deepEqual([got, data], [handle, "then"]);
  });

  it("cancels a queued or epoch job, and a running one as gearmand does; not an unknown one", () => {
    const { scheduler, connect, job, submit, grab, complete } = setup({ jobRetries: 0 });
    const client = connect();
    const queued = submit(client, job("f", "queued", { background: true }));
    const later = submit(client, job("f", "later", { background: true, epoch: Math.ceil(Date.now() / 1000) + 3600 }));
    const running = submit(client, job("f", "running", { unique: "u" }));
    const lost = submit(client, job("f", "lost"));
    assert.equal(scheduler.cancel(queued), true);
    assert.equal(scheduler.cancel(later), true);
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    assert.equal(grab(worker)![0], running);
    assert.equal(grab(worker)![0], lost);
    assert.equal(scheduler.cancel(running), true);
    assert.deepEqual(client.out.take(), [{ name: "WORK_FAIL", args: [running] }], "its client hears at once");
    assert.equal(scheduler.cancel(queued), false, "already gone");
    assert.equal(scheduler.cancel("H:test:999"), false);
    assert.equal(scheduler.cancel("nonsense"), false);
    assert.notEqual(
      submit(client, job("f", "again", { unique: "u" })),
      running,
      "its unique is free: a new job does not join the cancelled one",
    );
    complete(worker, running, "late");
    assert.deepEqual(worker.out.take(), [], "the worker's late result is taken without an error, as gearmand");
    assert.deepEqual(client.out.take(), [], "and goes nowhere");
    assert.equal(scheduler.cancel(lost), true);
    client.out.take();
    scheduler.leave(worker.session);
    const next = connect();
    scheduler.canDo(next.session, "f", 0);
    assert.equal(grab(next)![3], "again", "the cancelled job whose worker was lost is not handed out again");
    assert.equal(grab(next), undefined);
  });

  it("requeues a lost job at the front, and fails it to its clients at jobRetries", () => {
    const { scheduler, connect, job, submit, grab } = setup({ jobRetries: 2 });
    const client = connect();
    const fragile = submit(client, job("f", "fragile"));
    const other = submit(client, job("f", "other"));
    const first = connect();
    scheduler.canDo(first.session, "f", 0);
    assert.equal(grab(first)![0], fragile);
    scheduler.leave(first.session);
    assert.deepEqual(
      [...scheduler.jobs()].map((j) => [j.handle, j.retries]),
      [
        [fragile, 1],
        [other, 0],
      ],
    );
    const second = connect();
    scheduler.canDo(second.session, "f", 0);
    assert.equal(grab(second)![0], fragile, "back at the front of its queue");
    scheduler.leave(second.session);
    assert.deepEqual(client.out.take(), [{ name: "WORK_FAIL", args: [fragile] }], "its worker lost twice: failed");
    const third = connect();
    scheduler.canDo(third.session, "f", 0);
    assert.equal(grab(third)![0], other);
    assert.equal(grab(third), undefined);
  });

  it("requeues without limit when jobRetries is 0", () => {
    const { scheduler, connect, job, submit, grab } = setup({ jobRetries: 0 });
    const client = connect();
    const handle = submit(client, job("f", "x"));
    for (let i = 0; i < 20; i++) {
      const worker = connect();
      scheduler.canDo(worker.session, "f", 0);
      assert.equal(grab(worker)![0], handle);
      scheduler.leave(worker.session);
    }
    assert.deepEqual(client.out.take(), []);
    assert.equal([...scheduler.jobs()][0].retries, 20);
  });

  it("limits a function's jobs (queued, running, waiting for an epoch) by maxQueue and admin maxqueue", () => {
    const { scheduler, connect, job, submit, grab } = setup({ maxQueue: 2 });
    const client = connect();
    submit(client, job("f", "1"));
    submit(client, job("f", "2", { background: true, epoch: Math.ceil(Date.now() / 1000) + 3600 }));
    scheduler.submit(client.session, job("f", "3"));
    assert.deepEqual(client.out.take(), [{ name: "ERROR", args: ["QUEUE_ERROR", "Job queue is full"] }]);
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    grab(worker);
    scheduler.submit(client.session, job("f", "4"));
    assert.equal(client.out.take()[0].name, "ERROR", "a running job counts too");
    // Per priority: high 3, normal 2, low 0 (unlimited).
    scheduler.setMaxQueue("g", [3, 2, 0]);
    for (let i = 0; i < 2; i++) submit(client, job("g", `n${i}`));
    scheduler.submit(client.session, job("g", "n2"));
    assert.equal(client.out.take()[0].name, "ERROR");
    submit(client, job("g", "h", { priority: Priority.High }));
    for (let i = 0; i < 10; i++) submit(client, job("g", `l${i}`, { priority: Priority.Low }));
    scheduler.setMaxQueue("g", undefined); // back to the default, 2
    scheduler.submit(client.session, job("g", "after"));
    assert.equal(client.out.take()[0].name, "ERROR");
  });

  it("wakes one sleeper per job, the longest asleep first, and a woken worker goes to the back of the line", () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const client = connect();
    const [w1, w2, w3] = [sleeper("f"), sleeper("f"), sleeper("f")];
    const noops = () => [w1, w2, w3].map((w) => w.out.names().filter((n) => n === "NOOP").length);
    submit(client, job("f", "a"));
    assert.deepEqual(noops(), [1, 0, 0]);
    submit(client, job("f", "b"));
    assert.deepEqual(noops(), [0, 1, 0]);
    assert.ok(grab(w1));
    assert.ok(grab(w2));
    scheduler.grab(w1.session, PacketType.GRAB_JOB_UNIQ);
    scheduler.preSleep(w1.session); // w1 sleeps again, after w3
    w1.out.take();
    submit(client, job("f", "c"));
    assert.deepEqual(noops(), [0, 0, 1]);
    submit(client, job("f", "d"));
    assert.deepEqual(noops(), [1, 0, 0]);
  });

  it("answers PRE_SLEEP with a NOOP at once when a job is already queued", () => {
    const { scheduler, connect, job, submit } = setup();
    const client = connect();
    submit(client, job("f", "waiting"));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    scheduler.preSleep(worker.session);
    assert.deepEqual(worker.out.names(), ["NOOP"]);
  });

  it("hands a worker that asked for wake-with-job its job in place of the NOOP, one per PRE_SLEEP, to its client whole", () => {
    const { scheduler, connect, job, submit, grab, complete, option } = setup();
    const client = connect();
    const parked = connect();
    option(parked, "glimpse-wake-with-job");
    assert.deepEqual(parked.out.take(), [{ name: "OPTION_RES", args: ["glimpse-wake-with-job"] }]);
    scheduler.canDo(parked.session, "f", 0);
    scheduler.preSleep(parked.session);
    const plain = connect();
    scheduler.canDo(plain.session, "f", 0);
    scheduler.preSleep(plain.session);
    const first = submit(client, job("f", "one"));
    assert.deepEqual(parked.out.take(), [{ name: "JOB_ASSIGN_UNIQ", args: [first, "f", "", "one"] }]);
    const second = submit(client, job("f", "two"));
    assert.deepEqual(parked.out.names(), [], "its park was answered: the next job wakes the other sleeper");
    assert.deepEqual(plain.out.names(), ["NOOP"]);
    complete(parked, first, "1");
    assert.deepEqual(client.out.take(), [{ name: "WORK_COMPLETE", args: [first, "1"] }]);
    scheduler.preSleep(parked.session);
    assert.deepEqual(
      parked.out.take(),
      [{ name: "JOB_ASSIGN_UNIQ", args: [second, "f", "", "two"] }],
      "PRE_SLEEP with a job queued: it at once",
    );
    // A new ability's queued job goes to the park at once (a parked worker sends no grab).
    submit(client, job("g", "queued for g"));
    scheduler.preSleep(parked.session);
    scheduler.canDo(parked.session, "g", 0);
    assert.deepEqual(parked.out.names(), ["JOB_ASSIGN_UNIQ"]);
    // Unparked, it is awake: no job comes for its parks, and its next grab is served as any grab.
    scheduler.preSleep(parked.session);
    scheduler.preSleep(parked.session);
    option(parked, "glimpse-unpark");
    const third = submit(client, job("f", "three"));
    assert.deepEqual(parked.out.take(), [{ name: "OPTION_RES", args: ["glimpse-unpark"] }]);
    assert.deepEqual(grab(parked), [third, "f", "", "three"]);
  });

  it("keeps each PRE_SLEEP of a wake-with-job worker as a parked slot (never NO_JOB), and hands jobs to parked workers in turn", () => {
    const { scheduler, connect, job, submit, option } = setup();
    const parkedWorker = () => {
      const worker = connect();
      option(worker, "glimpse-wake-with-job");
      scheduler.canDo(worker.session, "f", 0);
      for (let i = 0; i < 3; i++) scheduler.preSleep(worker.session);
      assert.deepEqual(worker.out.names(), ["OPTION_RES"], "three parks, and nothing said");
      return worker;
    };
    const [a, b] = [parkedWorker(), parkedWorker()];
    const client = connect();
    for (let i = 0; i < 7; i++) submit(client, job("f", `j${i}`));
    const got = (w: Party) => w.out.take().map((sent) => `${sent.name} ${sent.args[3]}`);
    assert.deepEqual(got(a), ["JOB_ASSIGN_UNIQ j0", "JOB_ASSIGN_UNIQ j2", "JOB_ASSIGN_UNIQ j4"], "in turn");
    assert.deepEqual(got(b), ["JOB_ASSIGN_UNIQ j1", "JOB_ASSIGN_UNIQ j3", "JOB_ASSIGN_UNIQ j5"]);
    scheduler.preSleep(b.session);
    assert.deepEqual(got(b), ["JOB_ASSIGN_UNIQ j6"], "a PRE_SLEEP with a job queued: that job");
    assert.deepEqual(got(a), []);
  });

  it("counts a NOOP as answered by the PRE_SLEEP of a worker that asked for wake-with-job after it", () => {
    const { scheduler, connect, job, submit, sleeper, option } = setup();
    const worker = sleeper("f");
    const handle = submit(connect(), job("f", "x"));
    assert.deepEqual(
      worker.out.take().map((sent) => sent.name),
      ["NOOP"],
    );
    option(worker, "glimpse-wake-with-job");
    scheduler.preSleep(worker.session);
    assert.deepEqual(worker.out.take(), [
      { name: "OPTION_RES", args: ["glimpse-wake-with-job"] },
      { name: "JOB_ASSIGN_UNIQ", args: [handle, "f", "", "x"] },
    ]);
    // Left unanswered, the NOOP would be judged overdue at the next check and wake other sleepers for nothing.
    assert.equal(worker.session.wokenBy, undefined, "its NOOP is answered");
    scheduler.stop();
  });

  it("passes a NOOP on when the woken worker leaves before it grabs", () => {
    const { scheduler, connect, job, submit, sleeper } = setup();
    const client = connect();
    const [w1, w2] = [sleeper("f"), sleeper("f")];
    submit(client, job("f", "x"));
    assert.deepEqual(w1.out.names(), ["NOOP"]);
    scheduler.leave(w1.session);
    assert.deepEqual(w2.out.names(), ["NOOP"]);
  });

  it("drops a departed client's queued jobs when a worker would take them, finishes its running one quietly, keeps its background one", () => {
    const { scheduler, connect, job, submit, grab, complete } = setup();
    const client = connect();
    const running = submit(client, job("f", "running"));
    const queued = submit(client, job("f", "queued"));
    const kept = submit(client, job("f", "background", { background: true }));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    assert.equal(grab(worker)![0], running);
    scheduler.leave(client.session);
    assert.deepEqual(
      [...scheduler.jobs()].map((j) => [j.handle, j.abandoned]),
      [
        [running, true],
        [queued, true],
        [kept, false],
      ],
    );
    complete(worker, running, "nobody listens");
    assert.deepEqual(worker.out.take(), [], "no error for a result nobody waits for");
    assert.equal(grab(worker)![0], kept, "the queued foreground job is dropped, not handed out");
    assert.equal(grab(worker), undefined);
    assert.deepEqual(
      [...scheduler.jobs()].map((j) => j.handle),
      [kept],
    );
  });

  it("drops a queued foreground job whose only client left", () => {
    const { scheduler, connect, job, submit, grab } = setup();
    const client = connect();
    submit(client, job("f", "orphan"));
    scheduler.leave(client.session);
    assert.equal([...scheduler.jobs()][0].abandoned, true, "admin show jobs lists it as ignored");
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    assert.equal(grab(worker), undefined, "dropped, not handed out");
    assert.deepEqual([...scheduler.jobs()], []);
  });

  it("keeps a coalesced job for the clients still waiting when one leaves", () => {
    const { scheduler, connect, job, submit, grab } = setup();
    const [a, b] = [connect(), connect()];
    const handle = submit(a, job("f", "x", { unique: "shared" }));
    submit(b, job("f", "x", { unique: "shared" }));
    scheduler.leave(a.session);
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    assert.equal(grab(worker)![0], handle);
  });

  it("forwards work packets to the job's clients; WORK_EXCEPTION only to those that asked", () => {
    const { scheduler, connect, job, submit, grab } = setup();
    const [plain, wants] = [connect(), connect()];
    scheduler.wantExceptions(wants.session);
    const handle = submit(plain, job("f", "x", { unique: "both" }));
    submit(wants, job("f", "x", { unique: "both" }));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    grab(worker);
    const send = (type: number, ...args: string[]) =>
      dispatchRequest(
        scheduler,
        worker.session,
        new Packet("REQ", type, encodeRaw("REQ", type, [handle, ...args]).subarray(12)),
      );
    send(PacketType.WORK_STATUS, "1", "4");
    scheduler.status(plain.session, handle);
    send(PacketType.WORK_EXCEPTION, "boom");
    assert.deepEqual(plain.out.take(), [
      { name: "WORK_STATUS", args: [handle, "1", "4"] },
      { name: "STATUS_RES", args: [handle, "1", "1", "1", "4"] },
      { name: "WORK_FAIL", args: [handle] },
    ]);
    assert.deepEqual(wants.out.take(), [
      { name: "WORK_STATUS", args: [handle, "1", "4"] },
      { name: "WORK_EXCEPTION", args: [handle, "boom"] },
    ]);
    // The job is over: a late result is refused, as gearmand does.
    send(PacketType.WORK_COMPLETE, "late");
    assert.deepEqual(
      worker.out.take().map((s) => s.args[0]),
      ["JOB_NOT_FOUND"],
    );
    scheduler.status(plain.session, handle);
    assert.deepEqual(plain.out.take(), [{ name: "STATUS_RES", args: [handle, "0", "0", "0", "0"] }]);
  });

  it("refuses a result from a worker that does not hold the job", () => {
    const { scheduler, connect, job, submit, grab, complete } = setup();
    const client = connect();
    const handle = submit(client, job("f", "x"));
    const [holder, stranger] = [connect(), connect()];
    scheduler.canDo(holder.session, "f", 0);
    grab(holder);
    complete(stranger, handle, "not mine");
    assert.deepEqual(stranger.out.take(), [
      { name: "ERROR", args: ["JOB_NOT_FOUND", "Job given in work result not found"] },
    ]);
    assert.deepEqual(client.out.take(), []);
  });

  it("answers GET_STATUS_UNIQUE as gearmand (unique first, then the client count)", () => {
    const { scheduler, connect, job, submit } = setup();
    const [a, b] = [connect(), connect()];
    submit(a, job("f", "x", { unique: "st" }));
    submit(b, job("f", "x", { unique: "st" }));
    scheduler.statusUnique(a.session, "st");
    scheduler.statusUnique(a.session, "nope");
    assert.deepEqual(a.out.take(), [
      { name: "STATUS_RES_UNIQUE", args: ["st", "1", "0", "0", "0", "2"] },
      { name: "STATUS_RES_UNIQUE", args: ["nope", "0", "0", "0", "0", "0"] },
    ]);
  });

  it("assigns with the reducer for GRAB_JOB_ALL and without the unique for GRAB_JOB", () => {
    const { scheduler, connect, job, submit } = setup();
    const client = connect();
    const reduce = submit(client, job("f", "data", { unique: "u", reducer: "sum" }));
    const plain = submit(client, job("f", "plain", { unique: "v" }));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    scheduler.grab(worker.session, PacketType.GRAB_JOB_ALL);
    scheduler.grab(worker.session, PacketType.GRAB_JOB);
    assert.deepEqual(worker.out.take(), [
      { name: "JOB_ASSIGN_ALL", args: [reduce, "f", "u", "sum", "data"] },
      { name: "JOB_ASSIGN", args: [plain, "f", "plain"] },
    ]);
  });

  it("draining hands out nothing more and resolves once the held jobs are done", async () => {
    const { scheduler, connect, job, submit, grab, complete } = setup();
    const client = connect();
    const held = submit(client, job("f", "held"));
    submit(client, job("f", "queued"));
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    grab(worker);
    let drained = false;
    const draining = scheduler.drain().then(() => (drained = true));
    assert.equal(grab(worker), undefined);
    await Promise.resolve();
    assert.equal(drained, false);
    complete(worker, held, "ok");
    await draining;
    assert.equal(drained, true);
    scheduler.stop();
  });

  it("lists connections, functions and jobs for the admin commands", () => {
    const { scheduler, connect, job, submit } = setup();
    const client = connect();
    scheduler.setClientId(client.session, "my client");
    const worker = connect();
    scheduler.canDo(worker.session, "f", 0);
    scheduler.canDo(worker.session, "g", 5000);
    const handle = submit(client, job("f", "x", { unique: "u", priority: Priority.Low }));
    assert.deepEqual(
      [...scheduler.connections()].map((c) => [c.id, c.clientId, c.functions]),
      [
        [1, "my_client", []],
        [2, "-", ["f", "g"]],
      ],
    );
    assert.deepEqual(
      [...scheduler.functions()],
      [
        { name: "f", total: 1, running: 0, queued: [0, 0, 1], scheduled: 0, workers: 1 },
        { name: "g", total: 0, running: 0, queued: [0, 0, 0], scheduled: 0, workers: 1 },
      ],
    );
    assert.deepEqual([...scheduler.jobs()], [{ handle, unique: "u", retries: 0, abandoned: false, background: false }]);
    assert.equal(scheduler.dropFunction("f"), "in use");
    assert.equal(scheduler.dropFunction("nope"), "unknown");
    scheduler.createFunction("h");
    assert.equal(scheduler.dropFunction("h"), "dropped");
  });

  it("journals background jobs and queues them again, with their handles, from the file", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-scheduler-"));
    try {
      const file = path.join(dir, "queue.journal");
      const before = setup();
      assert.equal(before.scheduler.useJournal(file, false), 0);
      const client = before.connect();
      const kept = before.submit(
        client,
        before.job("f", "kept", { background: true, unique: "k", priority: Priority.High }),
      );
      const done = before.submit(client, before.job("f", "done", { background: true }));
      before.submit(client, before.job("f", "foreground"));
      const worker = before.connect();
      before.scheduler.canDo(worker.session, "f", 0);
      before.grab(worker); // kept (high)
      before.grab(worker); // done
      before.complete(worker, done, "");
      before.scheduler.commit();
      before.scheduler.stop(); // the worker still holds "kept": it stays in the journal

      const after = setup();
      assert.equal(after.scheduler.useJournal(file, false), 1);
      assert.deepEqual(
        [...after.scheduler.jobs()].map((j) => [j.handle, j.unique, j.background]),
        [[kept, "k", true]],
      );
      const again = after.connect();
      after.scheduler.canDo(again.session, "f", 0);
      assert.deepEqual(after.grab(again)!.slice(0, 4), [kept, "f", "k", "kept"]);
      assert.notEqual(
        after.submit(after.connect(), after.job("f", "new", { background: true })),
        kept,
        "a new job never takes a replayed job's handle",
      );
      after.scheduler.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Scheduler wake-ups when a NOOP goes unanswered", () => {
  /** Groups NOOPs by the callback that sent them: those of one check share a microtask turn. */
  function noopBatches(workers: Party[]): string[][] {
    const batches: string[][] = [];
    let open = false;
    for (const worker of workers) {
      worker.out.onPacket = (address, sent) => {
        if (sent.name !== "NOOP") return;
        if (!open) {
          batches.push([]);
          open = true;
          queueMicrotask(() => (open = false));
        }
        batches.at(-1)!.push(address);
      };
    }
    return batches;
  }

  it("wakes the next sleeper, and the job goes to it", async () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const [dead, live] = [sleeper("f"), sleeper("f")];
    const woken = live.out.next("NOOP");
    const handle = submit(connect(), job("f", "x"));
    assert.deepEqual(dead.out.names(), ["NOOP"]);
    assert.deepEqual(live.out.names(), [], "one NOOP per job at first");
    await alive(woken);
    assert.equal(grab(live)![0], handle);
    assert.deepEqual(dead.out.names(), [], "the dead one got its one NOOP only");
    scheduler.stop();
  });

  it(`widens by ${WIDENING.join(", ")} more sleepers, then wakes every one`, async () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const dead = Array.from({ length: 10 }, () => sleeper("f"));
    const live = sleeper("f");
    const batches = noopBatches([...dead, live]);
    const woken = live.out.next("NOOP");
    const handle = submit(connect(), job("f", "x"));
    await alive(woken);
    assert.equal(grab(live)![0], handle);
    const names = (workers: Party[]) => workers.map((w) => w.out.address);
    assert.deepEqual(batches, [
      names(dead.slice(0, 1)),
      names(dead.slice(1, 2)),
      names(dead.slice(2, 4)),
      names(dead.slice(4, 8)),
      names([...dead.slice(8), live]),
    ]);
    scheduler.stop();
  });

  it("serves a worker that answers after its NOOP was written off like any other", async () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const [late, live] = [sleeper("f"), sleeper("f")];
    const woken = live.out.next("NOOP");
    const client = connect();
    const first = submit(client, job("f", "first"));
    await alive(woken);
    assert.deepEqual(
      [late, live].map((w) => w.out.names()),
      [["NOOP"], ["NOOP"]],
    );
    assert.equal(grab(live)![0], first);
    const second = submit(client, job("f", "second"));
    assert.deepEqual(
      [late, live].map((w) => w.out.names()),
      [[], []],
      "nobody sleeps: no NOOP",
    );
    assert.equal(grab(late)![0], second, "the late one asks at last, and is served");
    scheduler.stop();
  });

  it("passes a NOOP on when its worker took another function's job instead", () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const both = sleeper("f", "g");
    const onlyF = sleeper("f");
    const client = connect();
    const forF = submit(client, job("f", "for f"));
    submit(client, job("g", "urgent", { priority: Priority.High }));
    assert.deepEqual(
      [both, onlyF].map((w) => w.out.names()),
      [["NOOP"], []],
    );
    assert.equal(grab(both)![3], "urgent");
    assert.deepEqual(onlyF.out.names(), ["NOOP"], "the job of f still waits: its NOOP goes on");
    assert.equal(grab(onlyF)![0], forF);
    scheduler.stop();
  });

  it("passes a NOOP on when its worker dropped the function before grabbing", () => {
    const { scheduler, connect, job, submit, sleeper, grab } = setup();
    const [quitter, other] = [sleeper("f"), sleeper("f")];
    const handle = submit(connect(), job("f", "x"));
    assert.deepEqual(quitter.out.names(), ["NOOP"]);
    scheduler.cantDo(quitter.session, "f");
    assert.equal(grab(quitter), undefined);
    assert.deepEqual(other.out.names(), ["NOOP"]);
    assert.equal(grab(other)![0], handle);
    scheduler.stop();
  });
});
