/**
 * What an operator is told about faults across machines, on simulated hosts
 * (network namespaces on a bridge, test/support/netns.ts; root only): a job
 * server host `js` (the embedded server), a broker host, and the operator's
 * host `ops`, all reading one config file. A cut is a silent partition: the
 * host's link goes down at the switch, nothing answers and nothing is
 * refused, so a broker cut off is running and must not be called stopped.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { missingPeer } from "./support/peers.js";
import { SimulatedNetwork, type SimulatedHost } from "./support/netns.js";
import { HostProcess } from "./support/host-cluster.js";
import { CLI_PATH } from "./support/job-servers.js";
import { cliOn } from "./support/host-cli.js";

const GEARMAN_PORT = 4730;
const BROKER_PORT = 9000;

class OperatorHosts {
  readonly network = new SimulatedNetwork();
  readonly js = this.network.addHost("js");
  readonly broker = this.network.addHost("broker");
  readonly ops = this.network.addHost("ops");
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
