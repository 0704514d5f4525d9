/**
 * The client of the tests on simulated hosts, run as a program on its own
 * host: `node host-client.js CONFIG`. It makes one pool (MakePool(CONFIG)) and
 * runs the maps the test asks for, one JSON line per request on stdin, with
 * countedDouble (test/fixtures/cluster-functions.ts) over `count` numbers
 * from `offset`:
 *
 *   stdin  {"id":1,"map":{"offset":0,"count":4000,"chunksize":25}}
 *   stdout {"ready":true}                                          once the pool is made
 *          {"id":1,"progress":{"done":1000,"retries":0}}           after every chunk and every retry
 *          {"id":1,"result":{"ms":3120,"length":4000,"wrong":[],"retries":0}}
 *          {"id":1,"error":"PoolError CHUNK_FAILED ..."}
 *
 * It checks the results itself (`wrong`: the first indexes whose result is
 * not 2 × item), so megabytes of results never cross the pipe. Closing
 * stdin closes the pool and ends the process.
 */
import { createInterface } from "node:readline";
import { MakePool, moduleFunction } from "../../lib/index.js";

interface MapRequest {
  readonly offset: number;
  readonly count: number;
  readonly chunksize: number;
}

const send = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);
const counted = moduleFunction<number, number>(
  new URL("../fixtures/cluster-functions.js", import.meta.url),
  "countedDouble",
);

const pool = await MakePool(process.argv[2]);
send({ ready: true });

async function runMap(id: number, request: MapRequest): Promise<void> {
  const items = Array.from({ length: request.count }, (_, i) => request.offset + i);
  let retries = 0;
  const started = performance.now();
  try {
    const out = await pool.map(counted, items, {
      chunksize: request.chunksize,
      onProgress: (progress) => {
        retries = progress.retries;
        send({ id, progress: { done: progress.done, retries } });
      },
    });
    const ms = Math.round(performance.now() - started);
    const wrong: number[] = [];
    for (let i = 0; i < items.length && wrong.length < 10; i++) if (out[i] !== items[i] * 2) wrong.push(i);
    send({ id, result: { ms, length: out.length, wrong, retries } });
  } catch (error) {
    const e = error as Error & { code?: string };
    send({ id, error: `${e.name} ${e.code ?? ""} ${e.message}` });
  }
}

const lines = createInterface({ input: process.stdin });
const maps: Promise<void>[] = [];
for await (const line of lines) {
  if (line.trim() === "") continue;
  const { id, map } = JSON.parse(line) as { id: number; map: MapRequest };
  maps.push(runMap(id, map));
}
await Promise.allSettled(maps);
await pool.close();
