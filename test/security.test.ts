/**
 * A cluster with a secret, end to end on each job server kind: signed maps
 * work; forged, replayed and unsigned jobs, unsigned or forged commands, a
 * client with the wrong secret and a client with none are refused, logged,
 * and nothing of theirs runs. Then a worker node that runs only allow-listed
 * modules.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as zmq from "zeromq";
import { ClusterPool, PoolError, RemoteError, moduleFunction, type WorkerOutput } from "../lib/index.js";
import { GearmanClient, JobError } from "../lib/gearman/index.js";
import { ClusterKey } from "../lib/security/cluster-key.js";
import { CHANNEL_VERSION, TOPIC_ALL } from "../lib/channels/messages.js";
import { ClusterControl } from "../lib/control/cluster-control.js";
import { controlOptions } from "../lib/config/channel-options.js";
import { loadConfig } from "../lib/config/index.js";
import { encodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { signChunk } from "../lib/wire/chunk-signing.js";
import { toFunctionRef } from "../lib/wire/function-ref.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

const SECRET = "the cluster secret for these tests";
const WRONG = "not the cluster secret, but long enough";
const marker = moduleFunction<string, string>(
  new URL("./fixtures/marker-functions.js", import.meta.url),
  "appendMarker",
);
const markerRef = toFunctionRef(marker);
const linesOf = (file: string) =>
  existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;

/** A config like the cluster's with another [client] secret line (or none). */
function variant(cluster: TestCluster, name: string, secretLine: string | undefined): string {
  const text = readFileSync(cluster.configFile, "utf8").replace(/^secret = .*$/m, secretLine ?? "");
  return cluster.writeConfig(name, text);
}

for (const kind of jobServerKinds()) {
  describe(`a cluster with a secret, on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;
    let dir: string;
    let control: ClusterControl;
    const warnings: string[] = [];

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-security-"));
      cluster = await TestCluster.start({ kind, clientConfig: [`secret = ${SECRET}`] });
      await cluster.startNode(1);
      pool = await cluster.pool();
      // A second client end of the channels, to hear the node's log records.
      control = await ClusterControl.open(controlOptions(loadConfig(cluster.configFile)!.client));
    });

    after(async () => {
      await control?.close();
      await pool?.close();
      await cluster?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** Resolves with the first log record of the node that matches. */
    function logRecord(pattern: RegExp): Promise<string> {
      const stop = new AbortController();
      return (async () => {
        try {
          for await (const record of control.log.records(stop.signal)) {
            warnings.push(record.message);
            if (pattern.test(record.message)) return record.message;
          }
          return "";
        } finally {
          stop.abort();
        }
      })();
    }

    it("signed maps run as usual, with module and source functions", async () => {
      const file = path.join(dir, "signed");
      assert.deepEqual(await pool.map(marker, [file, file]), [file, file]);
      assert.equal(linesOf(file), 2);
      assert.deepEqual(await pool.map((x: number) => x * 2, [1, 2, 3], { chunksize: 1 }), [2, 4, 6]);
    });

    it("worker output of a signed cluster reaches the map, every line signed for its chunk's request", async () => {
      const lines: WorkerOutput[] = [];
      const out = await pool.map(
        (x: number) => {
          console.log("signed line", x);
          return x;
        },
        [1, 2, 3],
        { chunksize: 1, output: (line) => lines.push(line) },
      );
      assert.deepEqual(out, [1, 2, 3]);
      assert.deepEqual(lines.map((line) => `${line.index} ${line.text}`).sort(), [
        "0 signed line 1",
        "1 signed line 2",
        "2 signed line 3",
      ]);
    });

    it("a client with the wrong secret: the map is refused, naming the chunk, and nothing runs", async () => {
      const file = path.join(dir, "wrong-key");
      const wrong = await cluster.pool(variant(cluster, "wrong.ini", `secret = ${WRONG}`));
      try {
        const logged = logRecord(/refused: its signature does not verify/);
        await assert.rejects(wrong.map(marker, [file], { retries: 0 }), (e: unknown) => {
          assert.ok(e instanceof PoolError && e.code === "REFUSED", String(e));
          assert.match(
            e.message,
            /chunk 0 \(items 0\.\.0\) was refused: worker node .* refused chunk job .*signature does not verify/,
          );
          return true;
        });
        assert.match(await logged, /chunk job .* from job server .*; not run/);
      } finally {
        await wrong.close();
      }
      assert.equal(linesOf(file), 0);
    });

    it("a client without the secret: unsigned chunks are refused and nothing runs", async () => {
      const file = path.join(dir, "no-key");
      const plain = await cluster.pool(variant(cluster, "plain.ini", undefined));
      try {
        await assert.rejects(
          plain.map(marker, [file]),
          (e: unknown) => e instanceof PoolError && e.code === "REFUSED" && /is not signed/.test(e.message),
        );
      } finally {
        await plain.close();
      }
      assert.equal(linesOf(file), 0);
    });

    it("a forged job straight to the job server is refused; a genuine one runs once, its replay is refused", async () => {
      const file = path.join(dir, "replay");
      const client = new GearmanClient(cluster.server.clientOptions());
      const refusedWith = (reason: string) => (e: unknown) =>
        e instanceof JobError && new RegExp(`^glimpse-refused ${reason}: `).test(e.exception?.toString() ?? "");
      try {
        const payload = encodeChunkRequest({
          fn: markerRef,
          items: [file],
          start: 0,
          mapId: "outsider",
          chunk: 0,
          memoryVersion: 0,
        });
        await assert.rejects(
          client.submitJob("glimpse_map", signChunk(payload, new ClusterKey(WRONG))).result,
          refusedWith("forged"),
        );
        const tampered = signChunk(payload, new ClusterKey(SECRET));
        tampered[20] ^= 1;
        await assert.rejects(client.submitJob("glimpse_map", tampered).result, refusedWith("forged"));
        await assert.rejects(client.submitJob("glimpse_map", payload).result, refusedWith("unsigned"));
        assert.equal(linesOf(file), 0);

        const genuine = signChunk(payload, new ClusterKey(SECRET));
        await client.submitJob("glimpse_map", genuine).result;
        assert.equal(linesOf(file), 1);
        await assert.rejects(client.submitJob("glimpse_map", genuine).result, refusedWith("replayed"));
        assert.equal(linesOf(file), 1, "the replay did not run");
      } finally {
        await client.close();
      }
    });

    it("an unsigned or forged command is refused and logged; the node keeps serving", async () => {
      const [before] = await pool.ping(5000);
      const frontend = loadConfig(cluster.configFile)!.client.commandFrontendUrl;
      const intruder = new zmq.Publisher({ linger: 0 });
      try {
        intruder.connect(frontend);
        const body = (id: string) =>
          Buffer.from(
            JSON.stringify({ v: CHANNEL_VERSION, id, from: "intruder", time: Date.now(), command: { type: "quit" } }),
          );
        const unsigned = logRecord(/command message on topic "all" refused: it is not signed.*quit from intruder/);
        // Sent until the node heard one (a new PUB connection drops what it sends before it is joined).
        const sender = setInterval(() => void intruder.send([TOPIC_ALL, body("u1")]).catch(() => {}), 100);
        try {
          assert.match(await unsigned, /not carried out/);
        } finally {
          clearInterval(sender);
        }
        const forged = logRecord(/command message on topic "all" refused: its signature does not verify/);
        const wrongKey = new ClusterKey(WRONG);
        const forger = setInterval(() => {
          const frames = [Buffer.from(TOPIC_ALL), body("f1")];
          void intruder.send([...frames, wrongKey.sign("command", frames)]).catch(() => {});
        }, 1100); // refusal lines are rate-limited to one a second
        try {
          await forged;
        } finally {
          clearInterval(forger);
        }
      } finally {
        intruder.close();
      }
      const [after] = await pool.ping(5000);
      assert.equal(after.pid, before.pid, "the node did not quit");
      assert.deepEqual(await pool.map((x: number) => x + 1, [1]), [2]);
    });

    it("a client without the secret hears no log messages (they are signed) and says so once", async () => {
      const plain = await ClusterControl.open({
        ...controlOptions(loadConfig(variant(cluster, "plain2.ini", undefined))!.client),
        onRefused: () => {},
      });
      try {
        // Pings go unsigned: the node refuses them, so the client hears no pong; its own refusals count the node's signed log lines.
        assert.deepEqual(await plain.commands.ping(1500), []);
      } finally {
        await plain.close();
      }
    });
  });

  describe(`a worker node that runs only allow-listed modules, on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;
    let dir: string;

    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-policy-"));
      const fixtures = new URL("./fixtures/", import.meta.url).href;
      cluster = await TestCluster.start({
        kind,
        serverConfig: ["allow_source = false", `allowed_modules = ${fixtures}`],
      });
      await cluster.startNode(1);
      pool = await cluster.pool();
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it("runs an allow-listed module function", async () => {
      const file = path.join(dir, "allowed");
      assert.deepEqual(await pool.map(marker, [file]), [file]);
      assert.equal(linesOf(file), 1);
    });

    it("refuses source functions and other modules, naming the setting", async () => {
      await assert.rejects(
        pool.map((x: number) => x, [1]),
        (e: unknown) =>
          e instanceof RemoteError &&
          /FunctionRefusedError/.test(String((e.cause as Error)?.name ?? e.message)) &&
          /allow_source = false/.test(e.message + String((e.cause as Error)?.message)),
      );
      await assert.rejects(
        pool.map(moduleFunction<string, string>("node:child_process", "execSync"), [
          "touch /tmp/glimpse-should-not-exist",
        ]),
        (e: unknown) => e instanceof RemoteError && /node:child_process/.test(String((e.cause as Error)?.message)),
      );
      assert.deepEqual(await pool.map(marker, [path.join(dir, "still")]), [path.join(dir, "still")]);
    });
  });
}
