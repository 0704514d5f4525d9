/**
 * AdminClient against every job server kind: every method, ERR replies as
 * AdminError, and a server sending replies it cannot parse.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  AdminClient,
  AdminError,
  ArgumentError,
  GearmanClient,
  GearmanError,
  GearmanWorker,
} from "../lib/gearman/index.js";
import { freePort, jobServerKinds, type RunningJobServer } from "./support/job-servers.js";
import { eventually } from "./support/gearman.js";

const isAdminError = (command: string, errCode: string) => (e: unknown) =>
  e instanceof AdminError && e.code === "ADMIN" && e.errCode === errCode && e.message.includes(`"${command}"`);

for (const kind of jobServerKinds()) {
  describe(`AdminClient on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    let admin: AdminClient;
    const closers: (() => Promise<unknown>)[] = [];
    before(async () => {
      server = await kind.start({ jobRetries: 3 });
      admin = new AdminClient(server.url);
      closers.push(() => admin.close());
    });
    after(async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => {});
      await server.stop();
    });

    it("version and getpid", async () => {
      assert.match(await admin.version(), /^\S.*\d/); // gearmand "1.1.20+ds"; the embedded server names itself
      assert.equal(await admin.getpid(), server.pid);
    });

    it("status and workers show a worker's functions and queued jobs", async () => {
      const worker = new GearmanWorker({ servers: server.url, clientId: "admin-worker" });
      closers.push(() => worker.close());
      worker
        .register("adm_a", () => "")
        .register("adm_b", () => "")
        .start();
      await eventually(
        async () => (await admin.workers()).find((w) => w.clientId === "admin-worker" && w.functions.length === 2),
        5000,
        "worker to register",
      );
      const mine = (await admin.workers()).find((w) => w.clientId === "admin-worker")!;
      assert.deepEqual([...mine.functions].sort(), ["adm_a", "adm_b"]);
      assert.equal(mine.ip, "127.0.0.1");
      assert.ok(Number.isInteger(mine.fd) && mine.fd >= 0);
      const client = new GearmanClient(server.clientOptions());
      closers.push(() => client.close());
      await client.submitBackground("adm_queued", "1");
      await client.submitBackground("adm_queued", "2");
      const status = await admin.status();
      assert.deepEqual(
        status.find((s) => s.func === "adm_a"),
        { func: "adm_a", total: 0, running: 0, workers: 1 },
      );
      assert.deepEqual(
        status.find((s) => s.func === "adm_queued"),
        { func: "adm_queued", total: 2, running: 0, workers: 0 },
      );
    });

    it("workers lists a client of this process by the way it came: in-process for that kind, else TCP from 127.0.0.1", async () => {
      const client = new GearmanClient({ ...server.clientOptions(), clientId: "adm-transport-client" });
      closers.push(() => client.close());
      await client.submitBackground("adm_transport", "1");
      const mine = (await admin.workers()).find((w) => w.clientId === "adm-transport-client");
      assert.equal(mine?.ip, kind.name === "in-process" ? "in-process" : "127.0.0.1");
    });

    it("showJobs, showUniqueJobs and cancelJob", async () => {
      const client = new GearmanClient(server.clientOptions());
      closers.push(() => client.close());
      const handle = await client.submitBackground("adm_show", "x", { unique: "adm-unique-1" });
      const shown = (await admin.showJobs()).find((j) => j.handle === handle);
      assert.deepEqual(shown, { handle, retries: 0, ignoreJob: 0, jobQueued: 1 });
      assert.ok((await admin.showUniqueJobs()).includes("adm-unique-1"));
      await admin.cancelJob(handle);
      // gearmand marks a cancelled job ignored and drops it lazily; the embedded server removes it.
      assert.ok(!(await admin.showJobs()).some((j) => j.handle === handle && j.ignoreJob === 0));
      await assert.rejects(
        admin.cancelJob("H:no-such-job:1"),
        isAdminError("cancel job H:no-such-job:1", "UNKNOWN_JOB"),
      );
    });

    it("maxqueue, with one limit and with one per priority", async () => {
      const client = new GearmanClient(server.clientOptions());
      closers.push(() => client.close());
      // gearmand applies maxqueue only to functions it already knows.
      await client.submitBackground("adm_bounded", "1");
      await admin.maxqueue("adm_bounded", 1);
      await assert.rejects(
        client.submitBackground("adm_bounded", "2"),
        (e: unknown) => (e as { serverCode?: string }).serverCode === "QUEUE_ERROR",
      );
      await admin.maxqueue("adm_bounded", [5, 5, 5]);
      await client.submitBackground("adm_bounded", "3");
      await admin.maxqueue("adm_bounded");
      assert.equal((await admin.status()).find((s) => s.func === "adm_bounded")!.total, 2);
      await assert.rejects(admin.maxqueue("adm_bounded", -1), /whole number/);
      await assert.rejects(admin.maxqueue("adm_bounded", [1, 2] as never), /high, normal, low/);
    });

    it("createFunction and dropFunction", async () => {
      await admin.createFunction("adm_made");
      // gearmand 1.1.20 drops the last character of the name it creates.
      const made = (await admin.status()).find((s) => s.func === "adm_made" || s.func === "adm_mad");
      assert.ok(made, "created function listed by status");
      assert.deepEqual({ ...made, func: "" }, { func: "", total: 0, running: 0, workers: 0 });
      await admin.dropFunction(made.func);
      assert.ok(!(await admin.status()).some((s) => s.func === made.func), "dropped function gone");
      await assert.rejects(
        admin.dropFunction("adm_never_made"),
        (e: unknown) => e instanceof AdminError && /drop function adm_never_made/.test(e.message),
      );
    });

    it("command sends a raw line; unknown commands get AdminError naming them", async () => {
      assert.deepEqual((await admin.command("status")).length, (await admin.status()).length);
      await assert.rejects(admin.command("no_such_command"), isAdminError("no_such_command", "UNKNOWN_COMMAND"));
      await assert.rejects(admin.createFunction("two words"), /one word/);
      await assert.rejects(admin.command("status\nworkers"), /one line/);
      // The connection still serves after the errors.
      assert.equal(await admin.getpid(), server.pid);
    });
  });
}

describe("AdminClient options", () => {
  it("a bad or unknown option, or a bad address, is an ArgumentError naming it", () => {
    const isArgumentError = (pattern: RegExp) => (e: unknown) =>
      e instanceof ArgumentError && e.code === "BAD_ARGUMENT" && pattern.test(e.message);
    assert.throws(
      () => new AdminClient("127.0.0.1:1", { timeout: 5 } as never),
      isArgumentError(
        /^AdminClient option timeout: unknown option \(did you mean "timeoutMs"\?\); known: timeoutMs, tls, open$/,
      ),
    );
    assert.throws(
      () => new AdminClient("127.0.0.1:1", { timeoutMs: 0 }),
      isArgumentError(/^AdminClient option timeoutMs: /),
    );
    assert.throws(
      () => new AdminClient("127.0.0.1:1", { open: {} as never }),
      isArgumentError(/^AdminClient option open: /),
    );
    assert.throws(
      () => new AdminClient("127.0.0.1:0"),
      isArgumentError(/^AdminClient server: "127.0.0.1:0" has a bad port/),
    );
  });
});

describe("AdminClient against a server that misbehaves", () => {
  let fake: net.Server;
  let reply = "";
  before(async () => {
    fake = net.createServer((socket) => socket.on("data", () => socket.write(reply)));
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
  });
  after(() => new Promise((resolve) => fake.close(resolve)));
  const url = () => `127.0.0.1:${(fake.address() as net.AddressInfo).port}`;

  it("an unparsable reply is a PROTOCOL error naming the server, command and line", async () => {
    const admin = new AdminClient(url());
    try {
      reply = "only_two\tfields\n.\n";
      await assert.rejects(
        admin.status(),
        (e: unknown) =>
          e instanceof GearmanError &&
          e.code === "PROTOCOL" &&
          e.message.includes(url()) &&
          /"status".*only_two/.test(e.message),
      );
      reply = "not a workers line\n.\n";
      await assert.rejects(admin.workers(), (e: unknown) => e instanceof GearmanError && e.code === "PROTOCOL");
    } finally {
      await admin.close();
    }
  });

  it("a reply that never ends is a TIMEOUT", async () => {
    const admin = new AdminClient(url(), { timeoutMs: 100 });
    try {
      reply = "fn\t1\t0\t0\n";
      await assert.rejects(admin.status(), (e: unknown) => e instanceof GearmanError && e.code === "TIMEOUT");
    } finally {
      await admin.close();
    }
  });

  it("an unreachable server is a CONNECTION error", async () => {
    const admin = new AdminClient(`127.0.0.1:${await freePort()}`);
    await assert.rejects(admin.version(), (e: unknown) => e instanceof GearmanError && e.code === "CONNECTION");
    await admin.close();
  });
});
