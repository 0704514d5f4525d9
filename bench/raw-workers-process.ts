/**
 * Raw echo workers (bench/raw-gearman.ts) in a process of their own, started
 * by bench/raw-workers.ts with the server's port, the function and how many
 * workers; says "ready" over IPC once every worker is registered, and exits
 * when its parent goes.
 */
import { rawWorker } from "./raw-gearman.js";

const [port, func, count] = [Number(process.argv[2]), process.argv[3], Number(process.argv[4])];
const workers = await Promise.all(Array.from({ length: count }, () => rawWorker(port, func)));
process.send?.("ready");
process.once("disconnect", () => {
  for (const worker of workers) worker.close();
  process.exit(0);
});
