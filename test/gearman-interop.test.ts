/**
 * Interoperability with other implementations: the `gearman` and `gearadmin`
 * command-line tools (libgearman, C) and Perl's Gearman::Client /
 * Gearman::Worker, against every job server kind. A missing peer is skipped
 * with its reason, or fails the run when GLIMPSE_REQUIRE_PEERS requires it
 * (as CI does; see test/support/peers.ts).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { GearmanClient, GearmanWorker, AdminClient } from "../lib/gearman/index.js";
import { jobServerKinds, type RunningJobServer } from "./support/job-servers.js";
import { startLineProcess, eventually } from "./support/gearman.js";
import { missingPeer } from "./support/peers.js";

const run = promisify(execFile);

const noGearmanCli = missingPeer("gearman-tools");
const noPerl = missingPeer("perl-gearman");

for (const kind of jobServerKinds()) {
  describe(`interop on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    const closers: (() => Promise<unknown>)[] = [];
    before(async () => {
      server = await kind.start({ jobRetries: 0 });
    });
    after(async () => {
      for (const close of closers.splice(0).reverse()) await close().catch(() => {});
      await server.stop();
    });

    it("a job from the gearman CLI (C) is served by our worker", { skip: noGearmanCli }, async () => {
      const worker = new GearmanWorker({ servers: server.url });
      closers.push(() => worker.close());
      worker.register("upper", (job) => job.data.toString().toUpperCase()).start();
      const { stdout } = await run(
        "gearman",
        ["-h", "127.0.0.1", "-p", String(server.port), "-f", "upper", "--", "from c"],
        { timeout: 10_000 },
      );
      assert.equal(stdout.trim(), "FROM C");
    });

    it("a background job from the gearman CLI (-b) is served by our worker", { skip: noGearmanCli }, async () => {
      const worker = new GearmanWorker({ servers: server.url });
      closers.push(() => worker.close());
      const served = new Promise<string>((resolve) =>
        worker.register("bg_from_c", (job) => void resolve(job.data.toString())).start(),
      );
      await run(
        "gearman",
        ["-h", "127.0.0.1", "-p", String(server.port), "-b", "-f", "bg_from_c", "--", "in the background"],
        { timeout: 10_000 },
      );
      assert.equal(await served, "in the background");
    });

    it(
      "gearadmin --show-jobs, --getpid and --server-version agree with our admin client",
      { skip: noGearmanCli },
      async () => {
        const admin = new AdminClient(server.url);
        closers.push(() => admin.close());
        const client = new GearmanClient(server.clientOptions());
        closers.push(() => client.close());
        await client.submitBackground("agree_shown", "x");
        const gearadmin = async (flag: string) =>
          (await run("gearadmin", ["-h", "127.0.0.1", "-p", String(server.port), flag])).stdout;
        const theirJobs = (await gearadmin("--show-jobs"))
          .split("\n")
          .filter((l) => l && l !== ".")
          .sort();
        const ourJobs = (await admin.showJobs())
          .map((j) => [j.handle, j.retries, j.ignoreJob, j.jobQueued].join("\t"))
          .sort();
        assert.deepEqual(ourJobs, theirJobs);
        assert.equal(Number((await gearadmin("--getpid")).trim()), await admin.getpid());
        assert.equal((await gearadmin("--server-version")).trim(), await admin.version());
      },
    );

    it("a job from our client is served by the gearman CLI worker (C)", { skip: noGearmanCli }, async () => {
      const cliWorker = startLineProcess("gearman", [
        "-w",
        "-h",
        "127.0.0.1",
        "-p",
        String(server.port),
        "-f",
        "rev",
        "-c",
        "1",
        "--",
        "rev",
      ]);
      closers.push(() => cliWorker.kill("SIGKILL"));
      const client = new GearmanClient(server.clientOptions());
      closers.push(() => client.close());
      assert.equal((await client.submitJob("rev", "hello\n").result).toString().trim(), "olleh");
    });

    it("gearadmin and our admin client agree", { skip: noGearmanCli }, async () => {
      const worker = new GearmanWorker({ servers: server.url, clientId: "agree-worker" });
      closers.push(() => worker.close());
      worker
        .register("agree_a", () => "")
        .register("agree_b", () => "")
        .start();
      const admin = new AdminClient(server.url);
      closers.push(() => admin.close());
      await eventually(
        async () => (await admin.workers()).some((w) => w.clientId === "agree-worker" && w.functions.length === 2),
        5000,
        "worker to register",
      );
      const client = new GearmanClient(server.clientOptions());
      closers.push(() => client.close());
      await client.submitBackground("agree_queued", "x");
      const { stdout: statusText } = await run("gearadmin", ["-h", "127.0.0.1", "-p", String(server.port), "--status"]);
      const theirs = statusText
        .split("\n")
        .filter((l) => l && l !== ".")
        .map((l) => l.split("\t").join(" "))
        .sort();
      const ours = (await admin.status()).map((s) => `${s.func} ${s.total} ${s.running} ${s.workers}`).sort();
      assert.deepEqual(ours, theirs);
      const { stdout: workersText } = await run("gearadmin", [
        "-h",
        "127.0.0.1",
        "-p",
        String(server.port),
        "--workers",
      ]);
      const line = workersText.split("\n").find((l) => l.includes("agree-worker"))!;
      assert.ok(line, workersText);
      const mine = (await admin.workers()).find((w) => w.clientId === "agree-worker")!;
      assert.deepEqual(line.split(":").pop()!.trim().split(/\s+/).sort(), [...mine.functions].sort());
    });

    it(
      "Perl Gearman::Client submits to our worker, and our client to a Perl Gearman::Worker",
      { skip: noPerl },
      async () => {
        const worker = new GearmanWorker({ servers: server.url });
        closers.push(() => worker.close());
        worker.register("double", (job) => String(Number(job.data.toString()) * 2)).start();
        const perlClient = `use Gearman::Client; my $c = Gearman::Client->new; $c->job_servers("127.0.0.1:${server.port}"); my $r = $c->do_task("double", "21"); print $$r, "\\n";`;
        const { stdout } = await run("perl", ["-e", perlClient], { timeout: 10_000 });
        assert.equal(stdout.trim(), "42");

        const perlWorker = startLineProcess("perl", [
          "-e",
          `use Gearman::Worker; $| = 1; my $w = Gearman::Worker->new; $w->job_servers("127.0.0.1:${server.port}"); $w->register_function(shout => sub { uc $_[0]->arg }); print "ready\\n"; $w->work(stop_if => sub { $_[0] == 0 && $_[1] >= 1 ? 0 : 0 }) while 1;`,
        ]);
        closers.push(() => perlWorker.kill("SIGKILL"));
        await perlWorker.waitFor(/ready/);
        const client = new GearmanClient(server.clientOptions());
        closers.push(() => client.close());
        assert.equal((await client.submitJob("shout", "quiet please").result).toString(), "QUIET PLEASE");
      },
    );
  });
}
