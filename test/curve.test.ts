/**
 * The channels under CURVE, end to end: a broker that admits only holders of
 * the cluster's key pair, a worker node and a pool that hold it. Commands and
 * logs flow; a peer with another key pair, or with none, is turned away at
 * the handshake and hears nothing. The job server plays no part in this, so
 * only the embedded one is used.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import { MakePool, ClusterPool } from "../lib/index.js";
import { loadConfig } from "../lib/config/index.js";
import { newCurveKeys } from "../lib/security/index.js";
import { CLI_PATH, embedded, freePort } from "./support/job-servers.js";
import { startLineProcess, type LineProcess } from "./support/gearman.js";
import { TestCluster } from "./support/cluster.js";

/** Resolves with the first event of `types` the socket reports. */
async function firstEvent(socket: zmq.Socket, types: readonly string[]): Promise<string> {
  for await (const event of socket.events) if (types.includes(event.type)) return event.type;
  return "closed";
}

describe("channels under CURVE", () => {
  let cluster: TestCluster;
  let pool: ClusterPool;
  const keys = newCurveKeys();

  before(async () => {
    cluster = await TestCluster.start({
      kind: embedded,
      curve: keys,
      clientConfig: ["secret = a secret for the curve tests, long enough"],
    });
    await cluster.startNode(1);
    pool = await MakePool(cluster.configFile);
  });

  after(async () => {
    await pool?.close();
    await cluster?.close();
  });

  it("commands and log messages flow between key holders", async () => {
    const nodes = await pool.ping(5000);
    assert.equal(nodes.length, 1);
    await pool.setMemory({ factor: 7 });
    assert.deepEqual(await pool.map((x: number) => x * (memory.get("factor") as number), [1, 2]), [7, 14]);
  });

  it("a peer with another key pair is refused at the handshake, and the broker names its address", async () => {
    const other = newCurveKeys();
    const backend = loadConfig(cluster.configFile)!.client.commandBackendUrl;
    const intruder = new zmq.Subscriber({
      linger: 0,
      curveServerKey: keys.publicKey,
      curvePublicKey: other.publicKey,
      curveSecretKey: other.secretKey,
    });
    try {
      intruder.subscribe("");
      const outcome = firstEvent(intruder, ["handshake", "handshake:error:auth", "handshake:error:protocol"]);
      intruder.connect(backend);
      assert.equal(await outcome, "handshake:error:auth");
      assert.ok(cluster.refusedPeers.includes("127.0.0.1"), JSON.stringify(cluster.refusedPeers));
    } finally {
      intruder.close();
    }
  });

  it("a peer without CURVE cannot complete a handshake", async () => {
    const backend = loadConfig(cluster.configFile)!.client.commandBackendUrl;
    const plain = new zmq.Subscriber({ linger: 0 });
    try {
      plain.subscribe("");
      const outcome = firstEvent(plain, ["handshake", "handshake:error:auth", "handshake:error:protocol"]);
      plain.connect(backend);
      assert.equal(await outcome, "handshake:error:protocol");
    } finally {
      plain.close();
    }
    assert.equal((await pool.ping(5000)).length, 1, "members still talk");
  });
});

declare const memory: { get(key: string): unknown };

describe("glimpse-cluster keygen and a CURVE broker from the CLI", () => {
  it("keygen's lines make a config whose broker, worker node and pool work together", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-keygen-"));
    const server = await embedded.start({ jobRetries: 0 });
    const processes: LineProcess[] = [];
    let pool: ClusterPool | undefined;
    try {
      const keygen = startLineProcess(process.execPath, [CLI_PATH, "keygen"]);
      processes.push(keygen);
      await new Promise((resolve) => keygen.child.once("exit", resolve));
      const keyLines = keygen.lines.filter((l) => /^(secret|curve_public_key|curve_secret_key) = /.test(l));
      assert.equal(keyLines.length, 3, keygen.lines.join("\n"));
      const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
      const urls = ["command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"].map(
        (key, i) => `${key} = tcp://127.0.0.1:${ports[i]}`,
      );
      const file = path.join(dir, "cluster.ini");
      writeFileSync(
        file,
        ["[client]", `job_server_url = ${server.url}`, ...urls, ...keyLines, "", "[server]", ...urls, ""].join("\n"),
      );
      assert.ok(loadConfig(file)!.client.curvePublicKey);

      const broker = startLineProcess(process.execPath, [CLI_PATH, "-c", file, "launch-broker"]);
      processes.push(broker);
      await broker.waitFor(/broker listening: .*\(CURVE\)/);
      const node = startLineProcess(process.execPath, [CLI_PATH, "-c", file, "launch-worker", "1"]);
      processes.push(node);
      await node.waitFor(/worker node .* started/);
      pool = await MakePool(file);
      assert.equal((await pool.ping(5000)).length, 1);
      assert.deepEqual(await pool.map((x: number) => -x, [1, 2]), [-1, -2]);
    } finally {
      await pool?.close();
      await Promise.all(processes.map((p) => stopProcess(p.child)));
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
