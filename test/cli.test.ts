/**
 * The glimpse-cluster command as users run it: exit codes and messages, and
 * the cluster commands against real worker nodes (direct mode: no broker).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { MakePool, type ClusterPool } from "../lib/index.js";
import { AdminClient } from "../lib/gearman/index.js";
import { CLI_PATH, jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually, startLineProcess } from "./support/gearman.js";

const execFileAsync = promisify(execFile);

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI_PATH, ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The PID column of `ping-workers`' table. */
async function pingedPids(configFile: string): Promise<number[]> {
  const result = await cli(["-c", configFile, "ping-workers", "2"]);
  assert.equal(result.code, 0, result.stderr);
  const [header, ...rows] = result.stdout.trim().split("\n");
  assert.match(header, /^HOST\s+PID\s/);
  return rows.map((row) => Number(row.trim().split(/\s+/)[1]));
}

describe("glimpse-cluster exit codes and messages", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-cli-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    writeFileSync(at, text);
    return at;
  };

  // The commands of one test run at once: each is a process that mostly starts up.
  it("--help exits 0 on the program and every command", async () => {
    const commands = [
      "launch-broker",
      "launch-worker",
      "kill-workers",
      "restart-workers",
      "ping-workers",
      "job-server",
      "logs",
      "demo",
    ];
    const [top, ...helps] = await Promise.all([
      cli(["--help"]),
      ...commands.map((command) => cli([command, "--help"])),
    ]);
    assert.equal(top.code, 0);
    commands.forEach((command, i) => {
      assert.match(top.stdout, new RegExp(command));
      assert.equal(helps[i].code, 0, `${command} --help`);
    });
  });

  it("--version (and -V) prints the package's version and exits 0", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-V"]) {
      assert.deepEqual(await cli([flag]), { code: 0, stdout: `${version}\n`, stderr: "" }, flag);
    }
    assert.match((await cli(["--help"])).stdout, /-V, --version\s+print the version and exit/);
  });

  it("the original's command names work as aliases", async () => {
    const aliases = ["LaunchBroker", "LaunchWorker", "KillWorkers", "RestartWorkers", "PingWorkers"];
    const results = await Promise.all(aliases.map((alias) => cli([alias, "--help"])));
    aliases.forEach((alias, i) => assert.equal(results[i].code, 0, alias));
  });

  it("usage errors exit 2", async () => {
    assert.equal((await cli(["no-such-command"])).code, 2);
    const bad = await cli(["launch-worker", "zero"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /num_processes/);
  });

  it("a missing config exits 2 and says how to give one", async () => {
    const result = await cli(["ping-workers"], { GLIMPSE_CLUSTER_CONFIG: "" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /-c FILE/);
  });

  it("config errors exit 2 naming the file, section and key", async () => {
    const cases: [string[], RegExp][] = [
      [["-c", path.join(dir, "absent.ini"), "ping-workers"], /absent\.ini.*no such file/],
      [
        ["-c", file("typo.ini", "[client]\nchunk_size = 3\n"), "ping-workers"],
        /typo\.ini \[client\] chunk_size: unknown key \(did you mean "chunksize"\?\)/,
      ],
      [
        ["-c", file("number.ini", "[client]\nmax_retries = many\n"), "ping-workers"],
        /number\.ini \[client\] max_retries: expected a whole number ≥ 0, got "many"/,
      ],
      [
        ["-c", file("prefetch.ini", "[server]\nprefetch = -1\n"), "launch-worker", "1"],
        /prefetch\.ini \[server\] prefetch: expected a whole number ≥ 0/,
      ],
      [
        ["-c", file("url.ini", "[server]\ncommand_frontend_url = http://x\n"), "launch-broker"],
        /url\.ini \[server\] command_frontend_url: expected a ZeroMQ endpoint/,
      ],
      [
        ["-c", file("section.ini", "[clinet]\nchunksize = 3\n"), "ping-workers"],
        /section\.ini \[clinet\]: unknown section \(did you mean "client"\?\)/,
      ],
      [
        ["-c", file("ref.ini", "[client]\njob_server_url = %(hots)s:4730\n"), "ping-workers"],
        /ref\.ini \[client\] job_server_url: "%\(hots\)s" refers to a key that is not set/,
      ],
    ];
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    cases.forEach(([args, message], i) => {
      assert.match(results[i].stderr, message, args.join(" "));
      assert.equal(results[i].code, 2, args.join(" "));
    });
  });

  it("the shipped config.ini.example loads", async () => {
    const example = path.resolve(path.dirname(CLI_PATH), "../../config.ini.example");
    const result = await cli(["-c", example, "launch-broker", "--help"]);
    assert.equal(result.code, 0);
  });
});

// The commands travel on the channels or run in CLI processes over TCP; the pool's Gearman transport is pool.test.ts's.
for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`cluster commands on ${kind.name} (direct mode, no broker)`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;

    before(async () => {
      cluster = await TestCluster.start({ kind, broker: false });
      // In direct mode the client binds the channels: the pool must exist before nodes can hear it.
      pool = await MakePool(cluster.configFile);
      await cluster.startNode(1);
      await cluster.startNode(1);
    });
    after(async () => {
      await pool?.close();
      await cluster?.close();
    });

    it("maps without a broker", async () => {
      assert.deepEqual(await pool.map((x: number) => x * 10, [1, 2, 3, 4, 5]), [10, 20, 30, 40, 50]);
    });

    it("set-memory reaches a worker node started afterwards", async () => {
      await pool.setMemory({ greeting: "hello" });
      // Labelled, so that a map can be sent to it alone: which node takes an unlabelled chunk is up to the job server.
      await cluster.startNode(1, ["--label", "late"]);
      const [late] = (await pool.ping(5000)).filter((n) => n.labels?.includes("late"));
      assert.ok(late, "the late node answers");
      const out = await pool.map(
        (x: number) => `${memory.get("greeting")} ${x} from ${process.pid}`,
        Array.from({ length: 12 }, (_, i) => i),
        {
          chunksize: 1,
          label: "late",
          waitForNodesMs: 10_000,
        },
      );
      assert.deepEqual(
        out,
        Array.from({ length: 12 }, (_, i) => `hello ${i} from ${late.pid}`),
      );
    });

    it("restart-workers restarts every node; kill-workers stops them", async () => {
      // In direct mode the pool holds the channels' addresses, so these commands go through the pool (the CLI would need them bound).
      const before = new Set((await pool.ping(5000)).map((n) => n.pid));
      assert.ok(before.size >= 2);
      const restarted = await pool.restartWorkers(10_000);
      assert.equal(restarted.length, before.size);
      await eventually(
        async () => {
          const now = await pool.ping(2000);
          return now.length === before.size && now.every((n) => !before.has(n.pid));
        },
        20_000,
        "every node to come back with a new pid",
      );
      assert.deepEqual(await pool.map((x: number) => x + 1, [1]), [2]);
      const quit = await pool.killWorkers(10_000);
      assert.equal(quit.length, before.size);
      await Promise.all(
        cluster.nodes.map(
          (n) => new Promise((resolve) => (n.child.exitCode !== null ? resolve(null) : n.child.once("exit", resolve))),
        ),
      );
      for (const node of cluster.nodes) assert.equal(node.child.exitCode, 0);
    });
  });

  describe(`cluster commands on ${kind.name} through a broker`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ kind });
      await cluster.startNode(1);
      await cluster.startNode(2);
    });
    after(async () => cluster?.close());

    it("ping-workers prints a table of both nodes", async () => {
      const result = await cli(["-c", cluster.configFile, "ping-workers", "5"]);
      assert.equal(result.code, 0, result.stderr);
      const lines = result.stdout.trim().split("\n");
      assert.match(lines[0], /^HOST\s+PID\s+NREQS\s+ETIME\s+MEAN_ETIME\s+STIME/);
      assert.equal(lines.length, 3, result.stdout);
    });

    it("logs follows the nodes' log records", async () => {
      const logs = startLineProcess(process.execPath, [CLI_PATH, "-c", cluster.configFile, "logs", "--json"]);
      const pool = await MakePool(cluster.configFile);
      try {
        // The log subscription takes a moment to reach the broker: restart the nodes until their records show up.
        // Wait for the records looked for, not any record: the subscription may take effect between two of a restart's.
        let line: string | undefined;
        for (let attempt = 0; attempt < 20 && !line; attempt++) {
          await pool.restartWorkers(10_000);
          line = await logs.waitFor(/"message":"worker node [^"]* (stopping|started)/, 1000).catch(() => undefined);
        }
        assert.ok(line, logs.lines.join("\n"));
        const record = JSON.parse(line);
        assert.equal(typeof record.host, "string");
        assert.ok(record.pid > 0);
        assert.match(record.message, /worker node .* (stopping|started)/);
      } finally {
        await pool.close();
        await logs.kill("SIGINT");
      }
      assert.equal(logs.child.exitCode, 0);
    });

    it("restart-workers and kill-workers reach every node", async () => {
      // Both nodes registered again (the test before restarts them).
      const before = await eventually(
        async () => {
          const pids = await pingedPids(cluster.configFile);
          return pids.length === 2 && pids;
        },
        20_000,
        "both nodes up",
      );
      const restart = await cli(["-c", cluster.configFile, "restart-workers"]);
      assert.equal(restart.code, 0, restart.stderr);
      assert.match(restart.stdout, /2 worker nodes told to restart/);
      // Back means new pids: a node that acknowledged the restart may still answer a ping on its way out,
      // and a quit sent to it then would miss the process that replaces it.
      const after = await eventually(
        async () => {
          const pids = await pingedPids(cluster.configFile);
          return pids.length === 2 && pids.every((pid) => !before.includes(pid)) && pids;
        },
        20_000,
        "both nodes back with new pids",
      );
      // kill-workers tells the nodes the job server lists; a node answers pings as soon as its channels are up,
      // a moment before its Gearman worker has registered: wait for both registrations (node ids carry the pid).
      const admin = new AdminClient(cluster.server.url);
      try {
        await eventually(
          async () => {
            const registered = (await admin.workers()).filter((w) => w.functions.includes("glimpse_map"));
            return after.every((pid) => registered.some((w) => w.clientId.includes(`:${pid}:`)));
          },
          20_000,
          "both new nodes registered at the job server",
        );
      } finally {
        await admin.close();
      }
      const kill = await cli(["-c", cluster.configFile, "kill-workers"]);
      assert.equal(kill.code, 0, kill.stderr);
      assert.match(kill.stdout, /2 worker nodes told to quit/);
      await Promise.all(
        cluster.nodes.map(
          (n) => new Promise((resolve) => (n.child.exitCode !== null ? resolve(null) : n.child.once("exit", resolve))),
        ),
      );
      for (const node of cluster.nodes) assert.equal(node.child.exitCode, 0, node.output.join("\n"));
    });
  });
}

declare const memory: { get(key: string): unknown };
