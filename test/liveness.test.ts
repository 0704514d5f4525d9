/**
 * Liveness of one Gearman worker whose job server falls silent (a proxy on
 * loopback that stops forwarding and closes nothing: test/support/silent-proxy.ts),
 * in one process with two embedded job servers: the silent server's
 * unanswered grab stops holding the worker's slot, the worker's probe drops
 * that connection, and the embedded server drops the silent worker and hands
 * the job it held to another. The same faults across real links, on both job
 * servers and with whole clusters, are cluster-liveness.test.ts's.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { GearmanClient, GearmanWorker, type GearmanError } from "../lib/gearman/index.js";
import { JobServer } from "../lib/server/index.js";
import { SilentProxy } from "./support/silent-proxy.js";
import { eventually } from "./support/gearman.js";
import { freePort } from "./support/job-servers.js";

/** What the probes allow: quiet after 2 s, dropped 3 s later; the embedded server drops a probing peer after 6 s. */
const BOUND_MS = 15_000;

describe("a worker whose job server falls silent", () => {
  it("takes another server's job while the silent one's grab is unanswered, drops that connection, and the server hands the job it held to another worker", async (t) => {
    const logs: string[] = [];
    const silent = new JobServer({ host: "127.0.0.1", port: 0, jobRetries: 0, log: (line) => logs.push(line) });
    const silentAddress = await silent.listen();
    // The other server starts only once the silent one holds the worker's one grab.
    const other = new JobServer({ host: "127.0.0.1", port: await freePort(), jobRetries: 0 });
    const proxy = await SilentProxy.start(silentAddress);
    const worker = new GearmanWorker({ servers: [proxy.url, `127.0.0.1:${other.options.port}`], concurrency: 1 });
    const spare = new GearmanWorker({ servers: `127.0.0.1:${silentAddress.port}` });
    const clients = [silentAddress.port, other.options.port].map(
      (port) => new GearmanClient({ servers: `127.0.0.1:${port}` }),
    );
    try {
      const took: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      worker.register("f", async (job) => {
        took.push(job.data.toString());
        if (job.data.toString() === "first") await held;
        return `worker:${job.data}`;
      });
      const dropped = new Promise<[string, GearmanError, number]>((resolve) =>
        worker.on("disconnect", (server: string, error: GearmanError) => {
          if (server === proxy.url) resolve([server, error, performance.now()]);
        }),
      );
      worker.start();
      const first = clients[0].submitJob("f", "first");
      await eventually(() => took.includes("first"), 10_000, "the worker took the first job");

      proxy.freeze();
      const frozenAt = performance.now();
      // Its result, and the grab of the slot it frees, go to the silent server: neither arrives.
      release();
      await other.listen();
      const second = clients[1].submitJob("f", "second");
      assert.equal((await second.result).toString(), "worker:second");
      const secondAt = performance.now();

      const [server, error, droppedAt] = await dropped;
      assert.equal(server, proxy.url);
      assert.match(error.message, /no answer to a probe in 3000 ms/);
      assert.ok(secondAt < droppedAt, "the second job waited for the silent server's connection to drop");

      // Started only now, so that it cannot have taken the first job before the worker did.
      spare.register("f", (job) => `spare:${job.data}`);
      spare.start();
      assert.equal((await first.result).toString(), "spare:first");
      const firstAt = performance.now();
      assert.ok(
        logs.some((line) => /^dropping 127\.0\.0\.1:\d+: a worker \(-\) silent for \d+ ms though it probes/.test(line)),
        logs.join("\n"),
      );
      const since = (at: number) => Math.round(at - frozenAt);
      t.diagnostic(
        `after the freeze: the other server's job ran at ${since(secondAt)} ms, the worker dropped the silent server at ` +
          `${since(droppedAt)} ms, the silent server handed the held job to another worker at ${since(firstAt)} ms`,
      );
      assert.ok(firstAt - frozenAt < BOUND_MS);
    } finally {
      await Promise.all([worker.close(), spare.close(), ...clients.map((client) => client.close())]);
      await proxy.close();
      await Promise.all([silent.close(), other.close()]);
    }
  });
});
