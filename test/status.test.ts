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
import { GearmanClient } from "../lib/gearman/index.js";
import { CLI_PATH, embedded, freePort, gearmand, type JobServerKind } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

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
        `glimpse-cluster: could not reach the command channel at tcp://127.0.0.1:${commandPort}: nothing accepted the connection (is the broker running?)\n` +
          `glimpse-cluster: could not reach the log channel at tcp://127.0.0.1:${logPort}: nothing accepted the connection (is the broker running?)\n`,
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
        const json = await cli(["-c", config, "status", "--json"]);
        assert.equal(json.code, 0, json.stderr);
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
        assert.equal(text.code, 0, text.stderr);
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
