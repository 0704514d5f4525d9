/**
 * What an operator is told about faults across machines, on simulated hosts
 * (network namespaces on a bridge, test/support/netns.ts; root only): a job
 * server host `js` (the embedded server), a broker host, the operator's host
 * `ops`, and gearmand on `gm` with a worker node on `w1`, all reading one
 * config file (or the same with gm as the job server). A cut is a silent partition: the
 * host's link goes down at the switch, nothing answers and nothing is
 * refused, so a broker cut off is running and must not be called stopped.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { missingPeer, programPath } from "./support/peers.js";
import { SimulatedNetwork, type SimulatedHost } from "./support/netns.js";
import { HostProcess, waitForListener } from "./support/host-cluster.js";
import { CLI_PATH } from "./support/job-servers.js";
import { cliOn, runOn } from "./support/host-cli.js";
import { eventually } from "./support/gearman.js";
import type { DashboardSnapshot } from "../lib/dashboard/dashboard-state.js";
import type { DashboardWarning } from "../lib/dashboard/dashboard-warnings.js";

const GEARMAN_PORT = 4730;
const BROKER_PORT = 9000;

class OperatorHosts {
  readonly network = new SimulatedNetwork();
  readonly js = this.network.addHost("js");
  readonly broker = this.network.addHost("broker");
  readonly ops = this.network.addHost("ops");
  /** gearmand (no --keepalive: a worker lost silently stays listed for minutes) and a worker node registered there. */
  readonly gm = this.network.addHost("gm");
  readonly w1 = this.network.addHost("w1");
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-operator-"));
  readonly config = path.join(this.dir, "cluster.ini");
  readonly processes: HostProcess[] = [];
  brokerProcess!: HostProcess;

  constructor() {
    const url = (offset: number) => `tcp://${this.broker.address}:${BROKER_PORT + offset}`;
    const urls = (section: string) => [
      section,
      `command_frontend_url = ${url(0)}`,
      `command_backend_url = ${url(1)}`,
      `log_frontend_url = ${url(2)}`,
      `log_backend_url = ${url(3)}`,
    ];
    writeFileSync(
      this.config,
      [...urls("[client]"), `job_server_url = ${this.js.address}:${GEARMAN_PORT}`, "", ...urls("[server]"), ""].join(
        "\n",
      ),
    );
  }

  /** The config with another job_server_url. */
  configWith(name: string, server: string): string {
    const file = path.join(this.dir, name);
    writeFileSync(
      file,
      readFileSync(this.config, "utf8").replace(/^job_server_url = .*$/m, `job_server_url = ${server}`),
    );
    return file;
  }

  url(offset: number): string {
    return `tcp://${this.broker.address}:${BROKER_PORT + offset}`;
  }

  spawn(host: SimulatedHost, name: string, args: string[]): HostProcess {
    const child = host.spawn(process.execPath, [CLI_PATH, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const running = new HostProcess(name, child);
    this.processes.push(running);
    return running;
  }

  async start(): Promise<void> {
    const server = this.spawn(this.js, "job server", [
      "job-server",
      "--host",
      this.js.address,
      "--port",
      String(GEARMAN_PORT),
    ]);
    this.brokerProcess = this.spawn(this.broker, "broker", ["-c", this.config, "launch-broker"]);
    await Promise.all([server.waitFor(/listening on/), this.brokerProcess.waitFor(/broker listening/)]);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop()));
    this.network.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("what the operator is told, across machines (simulated hosts)", { skip: missingPeer("netns") }, () => {
  let hosts: OperatorHosts;
  before(async () => {
    hosts = new OperatorHosts();
    await hosts.start();
  });
  after(() => hosts?.close());

  it("the dashboard warns of the broker cut off and of a job server cut off, and stops warning once they are back", async (t) => {
    const dashboard = hosts.spawn(hosts.ops, "dashboard", ["-c", hosts.config, "dashboard", "--port", "8787"]);
    await dashboard.waitFor(/dashboard on http:\/\/127\.0\.0\.1:8787\//);
    const warnings = async () => {
      const run = await runOn(hosts.ops, process.execPath, [
        "-e",
        'fetch("http://127.0.0.1:8787/api/snapshot").then((r) => r.text()).then((t) => process.stdout.write(t))',
      ]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout) as DashboardSnapshot).warnings;
    };
    const until = async (what: string, test: (w: readonly DashboardWarning[]) => boolean) => {
      const began = performance.now();
      const found = await eventually(
        async () => {
          const w = await warnings();
          return test(w) && { w };
        },
        30_000,
        what,
      );
      t.diagnostic(`${what}: ${Math.round(performance.now() - began)} ms (load ${os.loadavg()[0].toFixed(1)})`);
      return found.w;
    };
    try {
      assert.deepEqual(await until("no warning", (w) => w.length === 0), []);

      hosts.broker.cut();
      const silent =
        `could not reach the command channel at ${hosts.url(0)} or the log channel at ${hosts.url(3)}: ` +
        "no answer to the connection: the host is down or cut off from this one, or a firewall drops the packets (a running broker behind a cut link looks the same); " +
        "until it is back, no node, log record or other pool's map is heard";
      try {
        // The connections looked open: ZMTP heartbeats find them silent.
        const cut = await until("the broker's warning", (w) => w.some((x) => x.message === silent));
        assert.deepEqual(cut, [{ kind: "broker", target: `${hosts.url(0)}, ${hosts.url(3)}`, message: silent }]);
      } finally {
        hosts.broker.heal();
      }
      await until("no warning after the heal", (w) => w.length === 0);

      hosts.js.cut();
      try {
        const server = `${hosts.js.address}:${GEARMAN_PORT}`;
        const cut = await until("the job server's warning", (w) => w.some((x) => x.kind === "job-server"));
        assert.equal(cut.length, 1, JSON.stringify(cut));
        assert.equal(cut[0].target, server);
        assert.match(
          cut[0].message,
          new RegExp(
            `^could not reach job server ${server}: admin command "(status|workers)" to ${server} timed out after 2000 ms$`,
          ),
        );
      } finally {
        hosts.js.heal();
      }
      await until("no warning after the heal", (w) => w.length === 0);
    } finally {
      await dashboard.stop();
    }
  });

  it(
    "a worker node cut off while gearmand still lists it: ping-workers and status name it, exit 3",
    {
      skip: missingPeer("gearmand"),
    },
    async () => {
      const server = `${hosts.gm.address}:${GEARMAN_PORT}`;
      const gearmand = hosts.gm.spawn(
        programPath("gearmand")!,
        ["-L", hosts.gm.address, "-p", String(GEARMAN_PORT), "-j", "3", "--log-file", "none"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const gearmandProcess = new HostProcess("gearmand", gearmand);
      hosts.processes.push(gearmandProcess);
      await waitForListener(hosts.gm, GEARMAN_PORT, gearmandProcess);
      const config = hosts.configWith("gearmand.ini", server);
      const node = hosts.spawn(hosts.w1, "worker node", ["-c", config, "launch-worker", "1"]);
      const id = /worker node (\S+) started/.exec(await node.waitFor(/worker node \S+ started/))![1];
      const healthy = await cliOn(hosts.ops, ["-c", config, "ping-workers", "1"]);
      assert.deepEqual([healthy.code, healthy.stderr, healthy.stdout.trim().split("\n").length], [0, "", 2]);

      hosts.w1.cut();
      try {
        const line =
          `worker node ${id} (from ${hosts.w1.address}) is registered at job server ${server} but did not answer on the channels within 1 s: ` +
          "it cannot reach the broker, it is hung, or it is gone and the job server has not noticed yet";
        const ping = await cliOn(hosts.ops, ["-c", config, "ping-workers", "1"]);
        assert.equal(ping.code, 3, ping.stderr);
        assert.equal(ping.stderr, `glimpse-cluster: ${line}\n`);
        assert.match(ping.stdout, /^HOST\s+PID.*\n$/, "no node answered");
        const status = await cliOn(hosts.ops, ["-c", config, "status", "--wait", "1"]);
        assert.equal(status.code, 3, status.stderr);
        assert.ok(status.stdout.endsWith(`\nPROBLEMS\n${line}\n`), status.stdout);
      } finally {
        hosts.w1.heal();
        await node.stop();
      }
    },
  );

  it("the broker's host cut off: its endpoints did not answer (not 'not running'); stopped: refused", async () => {
    const healthy = await cliOn(hosts.ops, ["-c", hosts.config, "ping-workers", "1"]);
    assert.deepEqual([healthy.code, healthy.stderr], [0, ""]);

    hosts.broker.cut();
    try {
      const cut = await cliOn(hosts.ops, ["-c", hosts.config, "ping-workers", "1"]);
      assert.equal(cut.code, 1, cut.stderr);
      const silent =
        "no answer to the connection: the host is down or cut off from this one, or a firewall drops the packets (a running broker behind a cut link looks the same)";
      assert.equal(
        cut.stderr,
        `glimpse-cluster: could not reach the command channel at ${hosts.url(0)}: ${silent}\n` +
          `glimpse-cluster: could not reach the log channel at ${hosts.url(3)}: ${silent}\n`,
      );
    } finally {
      hosts.broker.heal();
    }

    await hosts.brokerProcess.stop();
    const stopped = await cliOn(hosts.ops, ["-c", hosts.config, "ping-workers", "1"]);
    assert.equal(stopped.code, 1, stopped.stderr);
    const refused =
      "the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)";
    assert.equal(
      stopped.stderr,
      `glimpse-cluster: could not reach the command channel at ${hosts.url(0)}: ${refused}\n` +
        `glimpse-cluster: could not reach the log channel at ${hosts.url(3)}: ${refused}\n`,
    );
  });
});
