/**
 * The latency case's floor: a worker node with none of our pool's code. A
 * GearmanWorker in its own process whose handler sends the job's bytes
 * through a piscina thread and back, so a round trip takes the same path as
 * a one-item map (client, job server, node process, thread) and nothing
 * else: no wire format, no signing, no memory versions. Started by
 * bench/cases/latency.ts with the job server's address; says "ready" over
 * IPC once registered, exits when its parent goes.
 */
import { Piscina } from "piscina";
import { GearmanWorker } from "../lib/gearman/index.js";

const threads = new Piscina({
  filename: new URL("./echo-task.js", import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
  concurrentTasksPerWorker: 2,
});
const worker = new GearmanWorker({ servers: process.argv[2], concurrency: 4 });
worker.register("bare_echo", async (job) => Buffer.from(await threads.run(job.data)));
worker.once("connect", () => process.send?.("ready"));
worker.start();
process.once("disconnect", () => {
  void worker
    .close()
    .then(() => threads.destroy())
    .then(() => process.exit(0));
});
