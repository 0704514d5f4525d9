/** One imap-memory run in its own process: prints {"peakMb", "seconds"} as JSON. */
import { readFileSync } from "node:fs";
import { localPool } from "./local-pool.js";

const items = Number(process.argv[2]);
function* numbers() {
  for (let i = 0; i < items; i++) yield i;
}
const pool = await localPool(2);
const started = performance.now();
let sum = 0;
for await (const value of pool.imap((x: number) => x * 2, numbers(), { chunksize: 1000 })) sum += value;
const seconds = (performance.now() - started) / 1000;
await pool.close();
if (sum !== items * (items - 1)) throw new Error(`imap-memory: wrong sum ${sum}`);
const peakKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
process.stdout.write(`${JSON.stringify({ peakMb: peakKb / 1024, seconds })}\n`);
