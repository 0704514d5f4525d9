/**
 * A job never waits behind a dead worker, on each job server kind: a
 * sleeping worker that stopped reading or was frozen with SIGSTOP, perl-
 * Gearman's dead-but-open sleeping worker (fixtures/work-finish.pl), and a
 * frozen worker node beside a sleeping one. Each dead worker is asleep and
 * first in line when the job comes, so a server that sends one NOOP per job
 * to its longest sleeper and nothing more hangs here; gearmand passes by
 * waking every sleeper, the embedded server by waking more sleepers when a
 * NOOP goes unanswered (lib/server/sleeping-workers.ts). The scheduler-level rule
 * is tested in scheduler.test.ts.
 */
import { describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { GearmanClient, PacketType } from "../lib/gearman/index.js";
import { encodeRaw } from "../lib/gearman/packet.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";
import { missingPeer } from "./support/peers.js";
import { MakePool } from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { startLineProcess } from "./support/gearman.js";
import { TestCluster } from "./support/cluster.js";
import { startSleepingWorker } from "./fixtures/sleeping-worker.js";

const SLEEPING_WORKER = fileURLToPath(new URL("./fixtures/sleeping-worker.js", import.meta.url));
/** Perl files are not compiled: the fixture is read from the source tree (tests run from dist/test). */
const WORK_FINISH = fileURLToPath(new URL("../../test/fixtures/work-finish.pl", import.meta.url));
/** A hang is a failure, not a wait without end. */
const HANG = { timeout: 30_000 };

const noPerl = missingPeer("perl-gearman");

/**
 * A TCP relay between a worker node and the job server that says when the
 * node sleeps: after each PRE_SLEEP it passes on, it sends the server an
 * ECHO_REQ of its own, whose ECHO_RES (ignored by the node) means the server
 * has read the PRE_SLEEP.
 */
async function sleepWatch(
  serverPort: number,
): Promise<{ url: string; asleep(): Promise<void>; close(): Promise<void> }> {
  const probe = encodeRaw("REQ", PacketType.ECHO_REQ, ["sleep-watch"]);
  let sleeps = 0;
  const waiters: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((node) => {
    const server = net.connect({ host: "127.0.0.1", port: serverPort });
    for (const socket of [node, server]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("close", () => (node.destroy(), server.destroy(), sockets.delete(socket)));
    }
    const up = new FrameDecoder({
      expect: "REQ",
      onPacket: (packet) => {
        server.write(packet.encode());
        if (packet.type === PacketType.PRE_SLEEP) server.write(probe);
      },
    });
    const down = new FrameDecoder({
      expect: "RES",
      onPacket: (packet) => {
        if (packet.type !== PacketType.ECHO_RES || packet.body.toString() !== "sleep-watch") return;
        sleeps++;
        for (const wake of waiters.splice(0)) wake();
      },
    });
    node.on("data", (chunk: Buffer) => up.push(chunk));
    server.on("data", (chunk: Buffer) => {
      node.write(chunk);
      down.push(chunk);
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const { port } = relay.address() as net.AddressInfo;
  return {
    url: `127.0.0.1:${port}`,
    asleep: () => (sleeps > 0 ? Promise.resolve() : new Promise((resolve) => waiters.push(resolve))),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => relay.close(resolve));
    },
  };
}

/** The pid of the worker node process a `launch-worker` supervisor runs. */
function nodeProcessOf(supervisorPid: number): number {
  const children = readFileSync(`/proc/${supervisorPid}/task/${supervisorPid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  assert.equal(children.length, 1, `supervisor ${supervisorPid} has children ${children.join(", ")}`);
  return children[0];
}

/** Cleanup steps run last-registered first, after the test, however it ended. */
function cleanups(t: TestContext): (step: () => unknown) => void {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const step of steps.reverse()) await step();
  });
  return (step) => void steps.push(step);
}

function resumeAndKill(pid: number): void {
  for (const signal of ["SIGCONT", "SIGKILL"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

for (const kind of jobServerKinds()) {
  describe(`a job never waits behind a dead worker, on ${kind.name}`, { skip: kind.skip }, () => {
    it(
      "a sleeping worker that stopped reading, beside a live sleeping one: the live one completes the job",
      HANG,
      async (t) => {
        const later = cleanups(t);
        const server = await kind.start({ jobRetries: 0 });
        later(() => server.stop());
        const dead = await startSleepingWorker(server.port, "wake_read");
        later(() => dead.close());
        await dead.asleep();
        dead.stopReading();
        const live = await startSleepingWorker(server.port, "wake_read");
        later(() => live.close());
        await live.asleep();
        const client = new GearmanClient({ servers: server.url });
        later(() => client.close());
        assert.equal((await client.submitJob("wake_read", "for the live one").result).toString(), "for the live one");
        assert.deepEqual(live.completed, ["for the live one"]);
        assert.deepEqual(dead.completed, []);
      },
    );

    it(
      "a sleeping worker whose process was frozen with SIGSTOP, beside a live sleeping one: the live one completes the job",
      HANG,
      async (t) => {
        const later = cleanups(t);
        const server = await kind.start({ jobRetries: 0 });
        later(() => server.stop());
        const frozen = startLineProcess(process.execPath, [SLEEPING_WORKER, String(server.port), "wake_stop"]);
        later(() => resumeAndKill(frozen.child.pid!));
        await frozen.waitFor(/^asleep 1$/);
        process.kill(frozen.child.pid!, "SIGSTOP");
        const live = await startSleepingWorker(server.port, "wake_stop");
        later(() => live.close());
        await live.asleep();
        const client = new GearmanClient({ servers: server.url });
        later(() => client.close());
        for (const data of ["first", "second"])
          assert.equal((await client.submitJob("wake_stop", data).result).toString(), data);
        assert.deepEqual(live.completed, ["first", "second"]);
      },
    );

    it(
      "perl-Gearman's dead-but-open sleeping workers (t/25-work-finish-command.t): every round's job reaches its live worker",
      { ...HANG, skip: noPerl },
      async (t) => {
        const later = cleanups(t);
        const server = await kind.start({ jobRetries: 0 });
        later(() => server.stop());
        // Its own process group, so that cleanup also reaches a forked worker left behind by a failure.
        const perl = spawn("perl", [WORK_FINISH, server.url], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
        later(() => resumeAndKill(-perl.pid!));
        let stdout = "";
        let stderr = "";
        perl.stdout.on("data", (chunk) => (stdout += chunk));
        perl.stderr.on("data", (chunk) => (stderr += chunk));
        const status = await new Promise<number | null>((resolve) => perl.once("exit", resolve));
        assert.equal(status, 0, `${stdout}${stderr}`);
        assert.deepEqual(stdout.trim().split("\n"), ["complete 16", "fail", "exception not today"]);
      },
    );

    it("a worker node frozen with SIGSTOP while another node sleeps does not hold up a map", HANG, async (t) => {
      const later = cleanups(t);
      const cluster = await TestCluster.start({ kind });
      later(() => cluster.close());
      const config = readFileSync(cluster.configFile, "utf8");
      const startWatched = async (name: string) => {
        const watch = await sleepWatch(cluster.server.port);
        later(() => watch.close());
        const node = await cluster.startNode(
          1,
          [],
          cluster.writeConfig(`${name}.ini`, config.replace(/^job_server_url = .*$/m, `job_server_url = ${watch.url}`)),
        );
        await watch.asleep();
        return node;
      };
      const frozen = nodeProcessOf((await startWatched("frozen")).child.pid!);
      process.kill(frozen, "SIGSTOP");
      later(() => resumeAndKill(frozen));
      await startWatched("live");
      const pool = await MakePool(cluster.configFile);
      later(() => pool.close());
      // One chunk, one job: its one NOOP goes to the frozen node, asleep the longest.
      assert.deepEqual(await pool.map((x: number) => x * 2, [1, 2, 3], { chunksize: 3 }), [2, 4, 6]);
    });
  });
}
