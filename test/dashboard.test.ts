/**
 * The dashboard's server without a browser: its snapshot and event stream
 * against gearmand and the embedded server (a pool opened with
 * `dashboard: true` on a configured cluster), read-only unless allowed,
 * control requests only from its own page, and on a local MakePool().
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MakePool } from "../lib/index.js";
import type { DashboardSnapshot } from "../lib/dashboard/dashboard-state.js";
import { readFileSync } from "node:fs";
import net from "node:net";
import * as zmq from "zeromq";
import { AdminClient } from "../lib/gearman/admin.js";
import { ClusterKey } from "../lib/security/cluster-key.js";
import { CHANNEL_VERSION, TOPIC_LOG, TOPIC_PROGRESS, TOPIC_REPLY } from "../lib/channels/messages.js";
import { TestCluster } from "./support/cluster.js";
import { embedded, freePort, gearmand, type JobServerKind, type RunningJobServer } from "./support/job-servers.js";
import { eventually } from "./support/gearman.js";
import { startDashboard } from "./support/dashboard-process.js";

async function snapshot(url: string): Promise<DashboardSnapshot> {
  const response = await fetch(new URL("api/snapshot", url));
  assert.equal(response.status, 200);
  return (await response.json()) as DashboardSnapshot;
}

/** The first `count` snapshot events of the page's event stream. */
async function events(url: string, count: number): Promise<DashboardSnapshot[]> {
  const response = await fetch(new URL("events", url));
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const found: DashboardSnapshot[] = [];
  let text = "";
  while (found.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = text.indexOf("\n\n")) >= 0) {
      const frame = text.slice(0, end);
      text = text.slice(end + 2);
      const data = frame.split("\n").find((line) => line.startsWith("data: "));
      if (frame.includes("event: snapshot") && data) found.push(JSON.parse(data.slice(6)));
    }
  }
  await reader.cancel();
  return found;
}

/** The page's event stream, read on: `until(test)` resolves with the first snapshot from now on that passes. */
async function snapshotStream(url: string) {
  const response = await fetch(new URL("events", url));
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const next = async (): Promise<DashboardSnapshot> => {
    for (;;) {
      const end = text.indexOf("\n\n");
      if (end >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const data = frame.split("\n").find((line) => line.startsWith("data: "));
        if (frame.includes("event: snapshot") && data) return JSON.parse(data.slice(6)) as DashboardSnapshot;
        continue;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error("the dashboard ended its event stream");
      text += decoder.decode(value, { stream: true });
    }
  };
  return {
    next,
    async until(test: (snapshot: DashboardSnapshot) => boolean, what: string, limit = 30): Promise<DashboardSnapshot> {
      for (let i = 0; i < limit; i++) {
        const snapshot = await next();
        if (test(snapshot)) return snapshot;
      }
      throw new Error(`no snapshot in ${limit} showed ${what}`);
    },
    close: () => reader.cancel(),
  };
}

const kinds: JobServerKind[] = [embedded, gearmand];
for (const kind of kinds) {
  describe(`dashboard on ${kind.name}`, { skip: kind.skip }, () => {
    it("shows the job server's queues and the nodes, pushes updates, and is read-only by default", async () => {
      const cluster = await TestCluster.start({ kind, broker: false });
      try {
        await cluster.startNode(2);
        const pool = await MakePool(cluster.configFile, { open: cluster.server.clientOptions().open, dashboard: true });
        try {
          const url = pool.dashboardUrl!;
          assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
          const page = await fetch(url);
          assert.match(page.headers.get("content-type")!, /^text\/html/);
          assert.match(await page.text(), /<script src="dashboard.js">/);
          for (const asset of ["dashboard.js", "dashboard.css", "favicon.svg"])
            assert.equal((await fetch(new URL(asset, url))).status, 200, asset);
          const seen = await eventually(async () => {
            const s = await snapshot(url);
            return (
              s.nodes.length === 1 &&
              s.jobServers[0]?.functions.some((f) => f.name === "glimpse_map" && f.workers === 1) &&
              s
            );
          });
          assert.equal(seen.nodes[0].threads, 2);
          assert.equal(seen.allowControl, false);
          assert.equal(seen.jobServers[0].server, cluster.server.url);
          assert.deepEqual(
            await pool.map((x: number) => x * 3, [1, 2, 3, 4, 5, 6, 7, 8]),
            [3, 6, 9, 12, 15, 18, 21, 24],
          );
          const [first, second] = await events(url, 2);
          assert.ok(second.time > first.time, "a newer snapshot was pushed");
          const map = second.maps[0];
          assert.equal(map.state, "finished");
          assert.equal(map.done, 8);
          assert.equal(map.total, 8);
          const refused = await fetch(new URL(`api/nodes/${encodeURIComponent(seen.nodes[0].id)}/quit`, url), {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: "{}",
          });
          assert.equal(refused.status, 403);
          assert.match(((await refused.json()) as { error: string }).error, /read-only/);
          assert.equal((await pool.ping(1000)).length, 1, "the node is still there");
        } finally {
          await pool.close();
        }
      } finally {
        await cluster.close();
      }
    });

    it("asks the job server over one kept admin connection, shows it unreachable while it is down, and again once restarted", async () => {
      const cluster = await TestCluster.start({ kind, broker: false });
      let restarted: RunningJobServer | undefined;
      const observers: AdminClient[] = [];
      let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
      let stream: Awaited<ReturnType<typeof snapshotStream>> | undefined;
      try {
        // The test's own admin connection: the only one listed before the dashboard starts (once the server saw the probe that found it listening go).
        const first = new AdminClient(cluster.server.url);
        observers.push(first);
        const [own] = await eventually(
          async () => {
            const fds = (await first.workers()).map((w) => w.fd);
            return fds.length === 1 && fds;
          },
          10_000,
          "the test's connection alone at the job server",
        );
        await first.createFunction("queue_before");
        dashboard = await startDashboard(cluster.configFile);
        stream = await snapshotStream(dashboard.url);
        const row = (s: DashboardSnapshot) => s.jobServers[0] ?? { reachable: false, functions: [], error: undefined };
        await stream.until(
          (s) => row(s).reachable && row(s).functions.some((f) => f.name.startsWith("queue_befor")),
          "the function created",
        );
        // Every refresh asks over the same connection: the server sees one, and the same one, each time.
        const seen = new Set<number>();
        for (let refresh = 0; refresh < 4; refresh++) {
          const s = await stream.next();
          assert.ok(row(s).reachable, JSON.stringify(row(s)));
          const others = (await first.workers()).map((w) => w.fd).filter((fd) => fd !== own);
          assert.equal(others.length, 1, `the dashboard's connections at refresh ${refresh}: ${others.join(", ")}`);
          seen.add(others[0]);
        }
        assert.equal(seen.size, 1, `the dashboard connected anew: ${[...seen].join(", ")}`);

        await cluster.server.stop();
        const down = await stream.until(
          (s) => s.jobServers.length === 1 && !row(s).reachable,
          "the job server unreachable",
        );
        assert.equal(down.jobServers.length, 1);
        assert.match(row(down).error!, /ECONNREFUSED|closed/);
        restarted = await kind.start({ port: cluster.server.port, jobRetries: 0 });
        // The dashboard may be connected before the test is: its connection is the one listed besides the test's own.
        const second = new AdminClient(restarted.url);
        observers.push(second);
        await second.createFunction("queue_after");
        const back = await stream.until(
          (s) => row(s).reachable && row(s).functions.some((f) => f.name.startsWith("queue_afte")),
          "the restarted job server's function",
        );
        assert.ok(
          !row(back).functions.some((f) => f.name.startsWith("queue_befor")),
          "the functions are the new server's",
        );
        const listed = new Set<string>();
        for (let refresh = 0; refresh < 3; refresh++) {
          await stream.next();
          const fds = (await second.workers()).map((w) => w.fd).sort((a, b) => a - b);
          assert.equal(
            fds.length,
            2,
            `the test's connection and the dashboard's, at refresh ${refresh}: ${fds.join(", ")}`,
          );
          listed.add(fds.join(","));
        }
        assert.equal(listed.size, 1, `the dashboard connected anew: ${[...listed].join(" then ")}`);
        assert.equal(dashboard.child.exitCode, null, dashboard.stderr());
      } finally {
        await stream?.close();
        await dashboard?.stop();
        await Promise.all(observers.map((admin) => admin.close()));
        await restarted?.stop();
        await cluster.close();
      }
    });
  });
}

for (const kind of kinds) {
  describe(`dashboard warnings on ${kind.name}`, { skip: kind.skip }, () => {
    it("shows a failed map's reason, warns of a job server it cannot ask and of the broker once it stops, in the snapshot", async () => {
      const cluster = await TestCluster.start({ kind, broker: true });
      let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
      let stream: Awaited<ReturnType<typeof snapshotStream>> | undefined;
      try {
        await cluster.startNode(1);
        const down = `127.0.0.1:${await freePort()}`;
        const text = readFileSync(cluster.configFile, "utf8").replace(
          /^job_server_url = .*$/m,
          `job_server_url = ${cluster.server.url}, ${down}`,
        );
        dashboard = await startDashboard(cluster.writeConfig("dashboard.ini", text));
        stream = await snapshotStream(dashboard.url);
        const serverWarning = {
          kind: "job-server",
          target: down,
          message: `could not reach job server ${down}: connect ECONNREFUSED`,
        };
        const warned = await stream.until((s) => s.warnings.length > 0, "a warning");
        assert.deepEqual(warned.warnings, [serverWarning]);

        const pool = await cluster.pool();
        let reason: string;
        try {
          const failure = await pool
            .map(
              (x: number) => {
                if (x === 3) throw new RangeError(`no ${x}s here`);
                return x;
              },
              [1, 2, 3, 4],
              { chunksize: 1, retries: 0 },
            )
            .then(
              () => assert.fail("the map resolved"),
              (error: Error) => error,
            );
          reason = failure.message;
          assert.match(reason, /RangeError: no 3s here/);
        } finally {
          await pool.close();
        }
        const failed = await stream.until((s) => s.maps.some((m) => m.state === "failed"), "the failed map");
        assert.equal(failed.maps.find((m) => m.state === "failed")!.error, reason);

        // The broker stops: its endpoints refuse the dashboard's connections again and again.
        await cluster.broker!.close();
        const [command, log] = [
          readFileSync(cluster.configFile, "utf8").match(/^command_frontend_url = (.*)$/m)![1],
          readFileSync(cluster.configFile, "utf8").match(/^log_backend_url = (.*)$/m)![1],
        ];
        const brokerWarning = {
          kind: "broker",
          target: `${command}, ${log}`,
          message:
            `could not reach the command channel at ${command} or the log channel at ${log}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port); ` +
            "until it is back, no node, log record or other pool's map is heard",
        };
        const both = await stream.until(
          (s) => s.warnings.some((w) => w.kind === "broker" && w.message === brokerWarning.message),
          "the broker's warning",
        );
        assert.deepEqual(both.warnings, [brokerWarning, serverWarning]);
      } finally {
        await stream?.close();
        await dashboard?.stop();
        await cluster.close();
      }
    });
  });
}

describe("dashboard control", { skip: embedded.skip }, () => {
  it("with allowControl, takes requests from its own page only, drains and brings online, and quits the node named", async () => {
    const cluster = await TestCluster.start({ kind: embedded, broker: false });
    try {
      const node = await cluster.startNode(1);
      const pool = await MakePool(cluster.configFile, { dashboard: { allowControl: true } });
      try {
        const url = pool.dashboardUrl!;
        const [target] = await eventually(async () => {
          const s = await snapshot(url);
          return s.nodes.length === 1 && s.nodes;
        });
        const route = new URL(`api/nodes/${encodeURIComponent(target.id)}/quit`, url);
        const foreign = await fetch(route, {
          method: "POST",
          headers: { "content-type": "application/json", origin: "http://evil.example" },
          body: "{}",
        });
        assert.equal(foreign.status, 403);
        const form = await fetch(route, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: "a=1",
        });
        assert.equal(form.status, 403);
        const post = (action: string) =>
          fetch(new URL(`api/nodes/${encodeURIComponent(target.id)}/${action}`, url), {
            method: "POST",
            headers: { "content-type": "application/json", origin: new URL(url).origin },
            body: "{}",
          });
        assert.equal((await post("drain")).status, 200);
        await eventually(async () => (await snapshot(url)).nodes.find((n) => n.id === target.id)?.state === "drained");
        assert.equal((await post("online")).status, 200);
        await eventually(async () => (await snapshot(url)).nodes.find((n) => n.id === target.id)?.state === "serving");
        assert.equal((await post("dance")).status, 404);
        // A node the page does not show: 404 at once, not a wait for an acknowledgement that cannot come.
        const unknown = await fetch(new URL("api/nodes/glimpse-node%3Anowhere%3A1/online", url), {
          method: "POST",
          headers: { "content-type": "application/json", origin: new URL(url).origin },
          body: "{}",
        });
        assert.equal(unknown.status, 404);
        assert.deepEqual(await unknown.json(), { error: "no live worker node glimpse-node:nowhere:1" });
        const exited = new Promise((resolve) => node.child.once("exit", resolve));
        const done = await fetch(route, {
          method: "POST",
          headers: { "content-type": "application/json", origin: new URL(url).origin },
          body: "{}",
        });
        assert.equal(done.status, 200, await done.clone().text());
        assert.equal(await exited, 0);
      } finally {
        await pool.close();
      }
    } finally {
      await cluster.close();
    }
  });
});

describe("dashboard of a cluster with a secret", { skip: embedded.skip }, () => {
  it("shows signed log messages only: unsigned and wrongly signed records, pongs and progress never appear", async () => {
    const secret = "the dashboard's cluster secret, long enough";
    const cluster = await TestCluster.start({ kind: embedded, broker: true, clientConfig: [`secret = ${secret}`] });
    const publisher = new zmq.Publisher({ linger: 0 });
    try {
      const pool = await MakePool(cluster.configFile, { dashboard: true });
      try {
        const url = pool.dashboardUrl!;
        assert.equal((await snapshot(url)).signed, true);
        // One socket for every message, in order: once the genuine record of a round shows, the forgeries sent before it were heard too.
        publisher.connect(/^log_frontend_url = (.*)$/m.exec(readFileSync(cluster.configFile, "utf8"))![1]);
        const key = new ClusterKey(secret);
        const wrongKey = new ClusterKey("another cluster's secret, as long");
        const envelope = (node: string, message: object) =>
          JSON.stringify({
            v: CHANNEL_VERSION,
            id: `${node}-${Date.now()}`,
            node,
            host: "forger",
            pid: 4242,
            time: Date.now(),
            message,
          });
        const stats = {
          node: "forged-node",
          host: "forger",
          pid: 4242,
          numRequests: 0,
          elapsedTime: 0,
          startTime: Date.now(),
          threads: 9,
          busy: 0,
          prefetched: 0,
          itemsDone: 0,
          memoryVersion: 0,
          labels: [],
          exclusive: false,
          state: "serving",
          handedBack: 0,
        };
        const progress = {
          type: "progress",
          mapId: "forged-map",
          function: "f",
          done: 1,
          total: 2,
          failed: 0,
          state: "running",
          started: Date.now(),
        };
        const frames = (topic: string, body: string) => [Buffer.from(topic), Buffer.from(body)];
        const signedBy = (signer: ClusterKey, topic: string, body: string) => [
          ...frames(topic, body),
          signer.sign("log", frames(topic, body)),
        ];
        const genuine = await eventually(
          async () => {
            const round = Date.now();
            for (const forge of [
              (t: string, b: string) => frames(t, b),
              (t: string, b: string) => signedBy(wrongKey, t, b),
            ]) {
              await publisher.send(
                forge(
                  TOPIC_LOG,
                  envelope("forged-node", { type: "record", level: "info", message: `forged record ${round}` }),
                ),
              );
              await publisher.send(
                forge(TOPIC_REPLY, envelope("forged-node", { type: "pong", commandId: "x", stats })),
              );
              await publisher.send(forge(TOPIC_PROGRESS, envelope("forged-pool", progress)));
            }
            await publisher.send(
              signedBy(
                key,
                TOPIC_LOG,
                envelope("genuine-node", { type: "record", level: "info", message: `genuine record ${round}` }),
              ),
            );
            return eventually(async () => {
              const s = await snapshot(url);
              return s.logs.some((l) => l.message === `genuine record ${round}`) && s;
            }, 1000).catch(() => undefined);
          },
          20_000,
          "a signed record on the dashboard",
        );
        assert.deepEqual(
          genuine.logs.filter((l) => l.message.startsWith("forged")),
          [],
        );
        assert.deepEqual(
          genuine.nodes.filter((n) => n.id === "forged-node"),
          [],
        );
        assert.deepEqual(
          genuine.maps.filter((m) => m.mapId === "forged-map"),
          [],
        );
      } finally {
        await pool.close();
      }
    } finally {
      publisher.close();
      await cluster.close();
    }
  });
});

describe("dashboard of a local cluster", () => {
  it("MakePool({ dashboard: true }) shows its own worker nodes and closes with the pool", async () => {
    const pool = await MakePool(undefined, { local: { workers: 1, threads: 1 }, dashboard: true });
    const url = pool.dashboardUrl!;
    try {
      await eventually(async () => (await snapshot(url)).nodes.length === 1);
    } finally {
      await pool.close();
    }
    await assert.rejects(fetch(url));
  });
});

describe("dashboard option that cannot start", () => {
  it("MakePool rejects with the listen error and releases the channels it had bound", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    // Direct mode: the pool binds both channel addresses itself. No job server is asked before the dashboard listens.
    const commandUrl = `tcp://127.0.0.1:${await freePort()}`;
    const logUrl = `tcp://127.0.0.1:${await freePort()}`;
    const config = {
      client: {
        job_server_url: `127.0.0.1:${await freePort()}`,
        command_frontend_url: commandUrl,
        command_backend_url: commandUrl,
        log_frontend_url: logUrl,
        log_backend_url: logUrl,
      },
    };
    try {
      // The dashboard's own listen error (its address in the message), not a channel's.
      await assert.rejects(MakePool(config, { dashboard: port }), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, "EADDRINUSE");
        assert.match(error.message, new RegExp(`:${port}\\b`));
        return true;
      });
      // Bindable again: the failed MakePool closed its channel ends. ZeroMQ gives a port back on its own
      // thread, so the first bind may come a moment early on a busy machine: tried until it holds.
      await eventually(
        async () => {
          const publisher = new zmq.Publisher({ linger: 0 });
          const subscriber = new zmq.Subscriber({ linger: 0 });
          const bound: string[] = [];
          try {
            await publisher.bind(commandUrl);
            bound.push(commandUrl);
            await subscriber.bind(logUrl);
            return true;
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
            return false;
          } finally {
            // Given back before the next try binds it again.
            if (bound.length > 0) await publisher.unbind(commandUrl).catch(() => {});
            publisher.close();
            subscriber.close();
          }
        },
        10_000,
        "both channel addresses bindable again",
      );
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
