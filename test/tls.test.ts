/**
 * TLS to the embedded job server (`job-server --tls-cert/--tls-key`, and
 * `--tls-ca` for client certificates): the Gearman client, worker and admin
 * speak it, plain or untrusting peers are turned away, and a whole pool runs
 * over it from a config. (Debian's gearmand 1.1.20 accepts --ssl but keeps
 * speaking plain TCP, so TLS to gearmand goes through a TLS terminator; see
 * docs/security.md.)
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GearmanClient, GearmanWorker, AdminClient, type GearmanTlsOptions } from "../lib/gearman/index.js";
import { MakePool, type ClusterPool } from "../lib/index.js";
import { embedded, type RunningJobServer } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { assertOnlySentinelRuns, created } from "./support/withdrawn-job.js";
import { missingPeer } from "./support/peers.js";
import { makeCertificates } from "./support/certificates.js";

describe("TLS to the embedded job server", { skip: missingPeer("openssl") }, () => {
  let dir: string;
  let files: ReturnType<typeof makeCertificates>;
  let tls: GearmanTlsOptions;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-tls-"));
    files = makeCertificates(dir);
    tls = { ca: readFileSync(files.ca) };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  async function roundTrip(server: RunningJobServer, options: GearmanTlsOptions): Promise<string> {
    const worker = new GearmanWorker({ servers: server.url, tls: options });
    worker.register("reverse", (job) => Buffer.from([...job.data.toString()].reverse().join("")));
    worker.start();
    const client = new GearmanClient({ servers: server.url, tls: options });
    try {
      return (await client.submitJob("reverse", "glimpse").result).toString();
    } finally {
      await client.close();
      await worker.stop();
    }
  }

  it("client, worker and admin speak TLS; plain and untrusting peers are turned away", async () => {
    const server = await embedded.start({ extraArgs: ["--tls-cert", files.serverCert, "--tls-key", files.serverKey] });
    try {
      assert.equal(await roundTrip(server, tls), "espmilg");
      const admin = new AdminClient(server.url, { tls });
      try {
        assert.ok((await admin.version()).length > 0);
      } finally {
        await admin.close();
      }
      const plain = new AdminClient(server.url, { timeoutMs: 5000 });
      await assert.rejects(
        plain.version(),
        (e: unknown) => (e as { code?: string }).code === "CONNECTION" || (e as { code?: string }).code === "TIMEOUT",
      );
      await plain.close();
      const untrusting = new AdminClient(server.url, { tls: {} });
      await assert.rejects(untrusting.version(), /certificate/i);
      await untrusting.close();
      assert.equal(await roundTrip(server, tls), "espmilg", "still serving");
    } finally {
      await server.stop();
    }
  });

  it("with --tls-ca only clients holding a certificate from that CA get in", async () => {
    const server = await embedded.start({
      extraArgs: ["--tls-cert", files.serverCert, "--tls-key", files.serverKey, "--tls-ca", files.ca],
    });
    try {
      const member = { ...tls, cert: readFileSync(files.clientCert), key: readFileSync(files.clientKey) };
      assert.equal(await roundTrip(server, member), "espmilg");
      for (const outsider of [
        tls,
        { ...tls, cert: readFileSync(files.rogueCert), key: readFileSync(files.rogueKey) },
      ]) {
        const admin = new AdminClient(server.url, { tls: outsider, timeoutMs: 5000 });
        await assert.rejects(admin.version(), (e: unknown) =>
          ["CONNECTION", "TIMEOUT"].includes((e as { code?: string }).code ?? ""),
        );
        await admin.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("a cancelled job is cancelled on the server over TLS too: it leaves the queue and never reaches a worker", async (t) => {
    const server = await embedded.start({ extraArgs: ["--tls-cert", files.serverCert, "--tls-key", files.serverKey] });
    const client = new GearmanClient({ servers: server.url, tls });
    const admin = new AdminClient(server.url, { tls });
    t.after(async () => {
      await client.close();
      await admin.close();
      await server.stop();
    });
    const job = client.submitJob("tls_cancel", "doomed");
    await created(job);
    job.cancel();
    await assert.rejects(job.result, (e: unknown) => (e as { code?: string }).code === "ABORTED");
    await assertOnlySentinelRuns(client, admin, "tls_cancel", { servers: server.url, tls }, false);
  });

  it("a pool and its worker nodes run over TLS from the config's job_server_ca/_cert/_key", async () => {
    let cluster: TestCluster | undefined;
    let pool: ClusterPool | undefined;
    try {
      cluster = await TestCluster.start({
        kind: embedded,
        serverArgs: ["--tls-cert", files.serverCert, "--tls-key", files.serverKey, "--tls-ca", files.ca],
        clientConfig: [
          `job_server_ca = ${files.ca}`,
          `job_server_cert = ${files.clientCert}`,
          `job_server_key = ${files.clientKey}`,
        ],
      });
      await cluster.startNode(1);
      pool = await MakePool(cluster.configFile);
      assert.equal((await pool.ping(5000)).length, 1, "the node is listed by admin over TLS");
      assert.deepEqual(await pool.map((x: number) => x * x, [1, 2, 3], { chunksize: 1 }), [1, 4, 9]);
    } finally {
      await pool?.close();
      await cluster?.close();
    }
  });
});
