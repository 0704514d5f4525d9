/**
 * What a user sees of a job the client gave up on (cancelled, timed out):
 * it is gone from its server's queue and never reaches a worker that
 * registers later. Shared by the cancel and timeout tests of
 * gearman-library.test.ts and tls.test.ts.
 */
import assert from "node:assert/strict";
import {
  GearmanWorker,
  type AdminClient,
  type ClientJob,
  type GearmanClient,
  type WorkerOptions,
} from "../../lib/gearman/index.js";
import { eventually } from "./gearman.js";

export const created = (job: ClientJob): Promise<string> => new Promise((resolve) => job.once("created", resolve));

/**
 * Call after the client gave up on every job of `func` it submitted (their
 * results rejected). A sentinel job is submitted on the same connection:
 * once it is created, the server has answered every earlier submission and
 * the client has sent its cancels. Then the sentinel must be the only live
 * job the server holds (gearmand keeps a cancelled job listed as ignored
 * until a worker would take it; the embedded server removes it), and a
 * worker registering afterwards must be handed the sentinel and nothing else
 * (a job left queued would have come first: same priority, queued earlier).
 * `admin` must see only this test's jobs (a server of its own). With
 * `lazyCancel` (gearmand) the admin `status` still counts cancelled jobs;
 * otherwise it must count the sentinel alone.
 */
export async function assertOnlySentinelRuns(
  client: GearmanClient,
  admin: AdminClient,
  func: string,
  workerOptions: WorkerOptions,
  lazyCancel: boolean,
): Promise<void> {
  const sentinel = client.submitJob(func, "sentinel");
  await created(sentinel);
  const funcStatus = async () => (await admin.status()).find((s) => s.func === func);
  await eventually(
    async () =>
      (await admin.showJobs()).filter((job) => job.ignoreJob === 0).length === 1 &&
      (lazyCancel || (await funcStatus())?.total === 1),
    10_000,
    "the given-up jobs to leave the queue",
  );
  const seen: string[] = [];
  const worker = new GearmanWorker(workerOptions);
  try {
    worker
      .register(func, (job) => {
        seen.push(job.data.toString());
        return "ran";
      })
      .start();
    assert.equal((await sentinel.result).toString(), "ran");
    await eventually(async () => (await funcStatus())?.total === 0, 10_000, `the queue of ${func} to be empty`);
    assert.deepEqual(seen, ["sentinel"], "the worker got only the sentinel");
  } finally {
    await worker.close();
  }
}
