/**
 * `glimpse-cluster status`, and what every cluster command says about the
 * job servers and channel endpoints it could not reach, against real
 * clusters on each kind of job server (gearmand through its admin protocol).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import os from "node:os";
import { GearmanClient } from "../lib/gearman/index.js";
import {
  CLI_PATH,
  embedded,
  freePort,
  gearmand,
  type JobServerKind,
  type RunningJobServer,
} from "./support/job-servers.js";
import { TestCluster, type TestNode } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";
import { SilentProxy } from "./support/silent-proxy.js";
import { ClusterControl } from "../lib/control/cluster-control.js";
import { controlOptions } from "../lib/config/channel-options.js";
import { loadConfig } from "../lib/config/index.js";

const execFileAsync = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI_PATH, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A config like the cluster's own, whose job_server_url lists these servers. */
function configWithServers(cluster: TestCluster, name: string, servers: string[]): string {
  const text = readFileSync(cluster.configFile, "utf8").replace(
    /^job_server_url = .*$/m,
    `job_server_url = ${servers.join(", ")}`,
  );
  return cluster.writeConfig(name, text);
}

describe("cluster commands that reach nothing", { skip: embedded.skip }, () => {
  it("ping-workers, status, kill-workers, restart-workers, drain and online name the job server they could not reach and exit 1", async () => {
    const cluster = await TestCluster.start({ kind: embedded, broker: false });
    try {
      const down = `127.0.0.1:${await freePort()}`;
      const config = configWithServers(cluster, "down.ini", [down]);
      const ping = await cli(["-c", config, "ping-workers", "0.5"]);
      assert.equal(ping.code, 1, ping.stderr);
      assert.match(ping.stdout, /^HOST\s+PID/);
      assert.match(ping.stderr, new RegExp(`could not reach job server ${down}: .*ECONNREFUSED`));
      assert.match(ping.stderr, /glimpse-cluster: could not reach the job server\n$/);
      for (const args of [
        ["status", "--wait", "0.5"],
        ["kill-workers", "--wait", "0.5"],
        ["restart-workers", "--wait", "0.5"],
        ["drain", "--all", "--wait", "0.5"],
        ["online", "label:gpu", "--wait", "0.5"],
      ]) {
        const run = await cli(["-c", config, ...args]);
        assert.equal(run.code, 1, `${args[0]}: ${run.stderr}`);
        assert.match(run.stderr, new RegExp(`could not reach job server ${down}`), args[0]);
      }
    } finally {
      await cluster.close();
    }
  });

  it("say which broker endpoints they could not reach", async () => {
    const cluster = await TestCluster.start({ kind: embedded, broker: true });
    try {
      const commandPort = await freePort();
      const logPort = await freePort();
      const text = readFileSync(cluster.configFile, "utf8")
        .replace(/^command_frontend_url = .*$/m, `command_frontend_url = tcp://127.0.0.1:${commandPort}`)
        .replace(/^log_backend_url = .*$/m, `log_backend_url = tcp://127.0.0.1:${logPort}`);
      const run = await cli(["-c", cluster.writeConfig("no-broker.ini", text), "ping-workers", "0.5"]);
      assert.equal(run.code, 1, run.stderr);
      // The two lines say it all: ping-workers cannot ask the nodes without both channels.
      assert.equal(
        run.stderr,
        `glimpse-cluster: could not reach the command channel at tcp://127.0.0.1:${commandPort}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)\n` +
          `glimpse-cluster: could not reach the log channel at tcp://127.0.0.1:${logPort}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)\n`,
      );
    } finally {
      await cluster.close();
    }
  });
});

const kinds: JobServerKind[] = [embedded, gearmand];
for (const kind of kinds) {
  describe(`glimpse-cluster status on ${kind.name}`, { skip: kind.skip }, () => {
    it("lists each job server's functions with queued, running and workers, a row for an unreachable one, and the nodes", async () => {
      const cluster = await TestCluster.start({ kind, broker: false });
      try {
        await cluster.startNode(2);
        const client = new GearmanClient(cluster.server.clientOptions());
        try {
          await client.submitBackground("nobody_does_this", "a");
          await client.submitBackground("nobody_does_this", "b");
        } finally {
          await client.close();
        }
        const down = `127.0.0.1:${await freePort()}`;
        const config = configWithServers(cluster, "two.ini", [cluster.server.url, down]);
        // A listed job server down, and jobs nobody can take: degraded, exit 3.
        const json = await cli(["-c", config, "status", "--json"]);
        assert.equal(json.code, 3, json.stderr);
        const status = JSON.parse(json.stdout);
        assert.equal(status.jobServers.length, 2);
        const [up, unreachable] = status.jobServers;
        assert.equal(up.server, cluster.server.url);
        assert.equal(up.reachable, true);
        assert.deepEqual(
          up.functions.find((f: { name: string }) => f.name === "nobody_does_this"),
          { name: "nobody_does_this", queued: 2, running: 0, workers: 0 },
        );
        assert.equal(up.functions.find((f: { name: string }) => f.name === "glimpse_map")?.workers, 1);
        assert.equal(unreachable.server, down);
        assert.equal(unreachable.reachable, false);
        assert.match(unreachable.error, /ECONNREFUSED/);
        assert.equal(status.nodes.length, 1);
        assert.equal(status.nodes[0].threads, 2);
        assert.match(json.stderr, new RegExp(`could not reach job server ${down}`));

        const text = await cli(["-c", config, "status"]);
        assert.equal(text.code, 3, text.stderr);
        const lines = text.stdout.split("\n");
        assert.match(lines[0], /^SERVER\s+FUNCTION\s+QUEUED\s+RUNNING\s+WORKERS$/);
        assert.ok(
          lines.some((l) =>
            new RegExp(`^${cluster.server.url.replace(/\./g, "\\.")}\\s+nobody_does_this\\s+2\\s+0\\s+0$`).test(l),
          ),
          text.stdout,
        );
        assert.ok(
          lines.some((l) => l.startsWith(down) && /unreachable: .*ECONNREFUSED/.test(l)),
          text.stdout,
        );
        assert.ok(
          lines.some((l) => /^HOST\s+PID\s+NREQS/.test(l)),
          text.stdout,
        );
      } finally {
        await cluster.close();
      }
    });
  });
}

describe("glimpse-cluster status --watch", { skip: embedded.skip }, () => {
  it("refreshes until SIGINT, then exits 0", async () => {
    const cluster = await TestCluster.start({ kind: embedded, broker: false });
    try {
      const child = spawn(
        process.execPath,
        [CLI_PATH, "-c", cluster.configFile, "status", "--json", "--watch", "0.2", "--wait", "0.2"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stdout = "";
      const documents: { time: number }[] = [];
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => {
          stdout += chunk.toString();
          const lines = stdout.split("\n");
          stdout = lines.pop()!;
          for (const line of lines) documents.push(JSON.parse(line));
          if (documents.length >= 3) resolve();
        });
        child.once("exit", (code) => reject(new Error(`status --watch exited (${code}) early`)));
      });
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      child.kill("SIGINT");
      assert.equal(await exited, 0);
      assert.ok(documents[1].time > documents[0].time && documents[2].time > documents[1].time);
    } finally {
      await cluster.close();
    }
  });
});

/** The id a node printed in its started line (`worker node ID started with ...`). */
function nodeId(node: TestNode): string {
  for (const line of node.output) {
    const m = /worker node (\S+) started/.exec(line);
    if (m) return m[1];
  }
  throw new Error(`no started line:\n${node.output.join("\n")}`);
}

/** The cluster's config with other job servers, and (for a node cut from the broker) other channel addresses. */
function variant(cluster: TestCluster, name: string, servers: string[], channelPort?: number): string {
  let text = readFileSync(cluster.configFile, "utf8").replace(
    /^job_server_url = .*$/m,
    `job_server_url = ${servers.join(", ")}`,
  );
  if (channelPort !== undefined)
    text = text.replace(/^(\w+_url) = tcp:\/\/.*$/gm, `$1 = tcp://127.0.0.1:${channelPort}`);
  return cluster.writeConfig(name, text);
}

for (const kind of kinds) {
  describe(`what ping-workers and status find wrong, on ${kind.name}`, { skip: kind.skip }, () => {
    it("a node registered but silent on the channels, one answering but registered nowhere, one registered at one server of two, stale jobs: each named, exit 3", async () => {
      const cluster = await TestCluster.start({ kind, broker: true });
      const others: RunningJobServer[] = [];
      try {
        others.push(await kind.start({ jobRetries: 0 }), await kind.start({ jobRetries: 0 }));
        const [s1, s2, s3] = [cluster.server.url, others[0].url, others[1].url];
        const config = variant(cluster, "cli.ini", [s1, s2]);
        const healthy = await cluster.startNode(1, [], variant(cluster, "healthy.ini", [s1, s2]));
        // One node registered at both servers and answering: healthy, exit 0, nothing on stderr.
        await eventually(async () => (await cli(["-c", config, "ping-workers", "1"])).stdout.split("\n").length === 3);
        const fine = await cli(["-c", config, "ping-workers", "1"]);
        assert.deepEqual([fine.code, fine.stderr], [0, ""]);
        const fineStatus = await cli(["-c", config, "status", "--wait", "1"]);
        assert.deepEqual([fineStatus.code, fineStatus.stderr], [0, ""]);
        assert.doesNotMatch(fineStatus.stdout, /PROBLEMS/);

        const silent = await cluster.startNode(1, [], variant(cluster, "silent.ini", [s1, s2], await freePort()));
        const partly = await cluster.startNode(1, [], variant(cluster, "partly.ini", [s2]));
        const elsewhere = await cluster.startNode(1, [], variant(cluster, "elsewhere.ini", [s3]));
        const client = new GearmanClient(cluster.server.clientOptions());
        try {
          await client.submitBackground("nobody_does_this", "a");
          await client.submitBackground("nobody_does_this", "b");
        } finally {
          await client.close();
        }
        // Every node is registered, and the three with a broker answer, before anything is judged.
        const pids = new Map<string, number>();
        await eventually(async () => {
          const json = await cli(["-c", config, "status", "--json", "--wait", "1"]);
          const status = JSON.parse(json.stdout) as { nodes: { node: string; pid: number }[] };
          for (const n of status.nodes) pids.set(n.node, n.pid);
          return status.nodes.length === 3 && /silent-node/.test(json.stdout);
        });
        const id = (node: TestNode) => nodeId(node);
        const host = os.hostname();
        const expected = [
          `worker node ${id(silent)} (from 127.0.0.1) is registered at job servers ${s1}, ${s2} but did not answer on the channels within 1 s: it cannot reach the broker, it is hung, or it is gone and the job server has not noticed yet`,
          `worker node ${id(elsewhere)} (${host}, pid ${pids.get(id(elsewhere))}) answers on the channels but is registered at no job server (${s1}, ${s2} answered): it takes no chunks; it cannot reach them, or its job_server_url names others`,
          `worker node ${id(partly)} (${host}, pid ${pids.get(id(partly))}) is registered at job server ${s2} but not at ${s1}: it takes no chunks queued there; it cannot reach it, or its job_server_url does not list it`,
          `job server ${s1} holds 2 jobs of nobody_does_this queued with no worker registered for it: nothing takes them until a node serving it connects (left by a failed map, or its nodes are drained or gone)`,
        ];

        const ping = await cli(["-c", config, "ping-workers", "1"]);
        assert.equal(ping.code, 3, ping.stderr);
        assert.equal(ping.stderr, expected.map((line) => `glimpse-cluster: ${line}\n`).join(""));
        const rows = ping.stdout.trim().split("\n").slice(1);
        assert.deepEqual(
          rows.map((row) => Number(row.split(/\s+/)[1])).sort(),
          [id(healthy), id(partly), id(elsewhere)].map((n) => pids.get(n)).sort(),
        );

        const status = await cli(["-c", config, "status", "--wait", "1"]);
        assert.equal(status.code, 3, status.stderr);
        assert.equal(status.stderr, "");
        assert.ok(status.stdout.endsWith(`\n\nPROBLEMS\n${expected.join("\n")}\n`), status.stdout);
        const json = await cli(["-c", config, "status", "--json", "--wait", "1"]);
        assert.equal(json.code, 3, json.stderr);
        const problems = (JSON.parse(json.stdout) as { problems: { kind: string; message: string }[] }).problems;
        assert.deepEqual(
          problems.map((p) => [p.kind, p.message]),
          [
            ["silent-node", expected[0]],
            ["unregistered-node", expected[1]],
            ["partly-registered-node", expected[2]],
            ["stale-jobs", expected[3]],
          ],
        );
      } finally {
        await Promise.all(others.map((s) => s.stop()));
        await cluster.close();
      }
    });
  });
}

for (const kind of kinds) {
  describe(`status and ping-workers with a job server gone silent, on ${kind.name}`, { skip: kind.skip }, () => {
    it("list the nodes still (they answer on the channels), the silent server's row says why, exit 3", async () => {
      const cluster = await TestCluster.start({ kind, broker: true });
      const second = await kind.start({ jobRetries: 0 });
      const proxy = await SilentProxy.start({ host: second.host, port: second.port });
      try {
        const config = variant(cluster, "cli.ini", [cluster.server.url, proxy.url]);
        await cluster.startNode(1, [], config);
        await eventually(async () => (await cli(["-c", config, "ping-workers", "1"])).code === 0);
        // A cut: every connection through the proxy stays open, and nothing passes any more.
        proxy.freeze();
        // The nodes answer at once; listing them at the silent server takes its whole admin timeout (2 s), which
        // must not hold the answers back.
        const control = await ClusterControl.open(controlOptions(loadConfig([config])!.client));
        try {
          assert.equal((await control.commands.ping(1000)).length, 1);
        } finally {
          await control.close();
        }
        for (const args of [
          ["ping-workers", "2"],
          ["status", "--wait", "2"],
        ]) {
          const run = await cli(["-c", config, ...args]);
          assert.equal(run.code, 3, `${args[0]}: ${run.stderr}`);
          const nodeRows = run.stdout
            .split("\n")
            .filter((line) => line.startsWith(`${os.hostname()} `) || line.startsWith(`${os.hostname()}\t`));
          assert.equal(nodeRows.length, 1, `${args[0]} lists the node:\n${run.stdout}`);
          assert.match(
            run.stderr,
            new RegExp(`^glimpse-cluster: could not reach job server ${proxy.url}: .*timed out`, "m"),
            args[0],
          );
          if (args[0] === "status")
            assert.match(
              run.stdout,
              new RegExp(`^${proxy.url.replace(/\./g, "\\.")}\\s+unreachable: .*timed out`, "m"),
            );
        }
      } finally {
        await cluster.close();
        await proxy.close();
        await second.stop();
      }
    });
  });
}
