/**
 * The Python peers, run with Debian's /usr/bin/python3 from temporary script
 * files (each with a __main__ guard, as multiprocessing and Dask need):
 * multiprocessing.Pool(2).map, and Dask distributed's LocalCluster(2 workers
 * × 1 thread, processes) for client.map over chunks and client.submit round
 * trips. Each returns its figures, or a string saying why it could not run.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const PYTHON = ["/usr/bin/python3", "python3"].find((p) =>
  p.startsWith("/") ? existsSync(p) : spawnSync(p, ["-c", "1"]).status === 0,
);

function runPython(name: string, lines: string[], args: (string | number)[], timeoutMs: number): string[] | string {
  if (!PYTHON) return "no python3 installed";
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-bench-"));
  const script = path.join(dir, `${name}.py`);
  writeFileSync(script, lines.join("\n"));
  try {
    const result = spawnSync(PYTHON, [script, ...args.map(String)], { encoding: "utf8", timeout: timeoutMs });
    if (result.status !== 0)
      return `${name} failed: ${(result.stderr || String(result.error ?? "")).trim().split("\n").pop()}`;
    return result.stdout.trim().split("\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** multiprocessing.Pool(2).map(x + 1) over `items` numbers with its default chunksize, twice in one pool (its start-up not timed): items/s of the first map and of the second. */
export function multiprocessingMap(items: number): { first: number; warm: number } | string {
  const out = runPython(
    "mp",
    [
      "import multiprocessing, sys, time",
      "def f(x):",
      "    return x + 1",
      "if __name__ == '__main__':",
      "    n = int(sys.argv[1])",
      "    items = list(range(n))",
      "    with multiprocessing.Pool(2) as pool:",
      "        for _ in range(2):",
      "            t = time.perf_counter()",
      "            out = pool.map(f, items)",
      "            print(n / (time.perf_counter() - t))",
      "            assert out[-1] == n",
    ],
    [items],
    120_000,
  );
  return typeof out === "string" ? out : { first: Number(out[0]), warm: Number(out[1]) };
}

const DASK_CLUSTER = [
  "import json, logging, sys, time",
  "def inc_chunk(chunk):",
  "    return [x + 1 for x in chunk]",
  "def inc(x):",
  "    return x + 1",
  "def cluster():",
  "    from distributed import LocalCluster",
  "    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR)",
];

/** The Dask configuration every Dask row uses. */
export const DASK_SETTING =
  "distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)";

/** Dask's version, or why it is not there. */
export function daskVersion(): string | undefined {
  const out = runPython(
    "dask_version",
    ["import distributed", "if __name__ == '__main__':", "    print(distributed.__version__)"],
    [],
    60_000,
  );
  return typeof out === "string" ? undefined : out[0];
}

/** Dask client.map of a chunk-wise x + 1 over `items` numbers cut in chunks of `chunksize`, `rounds` times: items/s per round. */
export function daskMap(items: number, chunksize: number, rounds: number): number[] | string {
  const out = runPython(
    "dask_map",
    [
      ...DASK_CLUSTER,
      "if __name__ == '__main__':",
      "    from distributed import Client",
      "    n, size, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])",
      "    items = list(range(n))",
      "    chunks = [items[i:i + size] for i in range(0, n, size)]",
      "    with cluster() as c, Client(c) as client:",
      "        client.gather(client.map(inc_chunk, chunks[:2], pure=False))",
      "        for r in range(rounds):",
      "            t = time.perf_counter()",
      "            out = client.gather(client.map(inc_chunk, chunks, pure=False))",
      "            dt = time.perf_counter() - t",
      "            assert out[-1][-1] == n",
      "            print(n / dt, flush=True)",
    ],
    [items, chunksize, rounds],
    300_000,
  );
  return typeof out === "string" ? out : out.map(Number);
}

/** Dask client.submit(inc, i).result() round trips, `count` of them after 50 warm-ups: milliseconds each. */
export function daskRoundTrips(count: number): number[] | string {
  const out = runPython(
    "dask_latency",
    [
      ...DASK_CLUSTER,
      "if __name__ == '__main__':",
      "    from distributed import Client",
      "    count = int(sys.argv[1])",
      "    with cluster() as c, Client(c) as client:",
      "        for i in range(50):",
      "            client.submit(inc, i, pure=False).result()",
      "        ms = []",
      "        for i in range(count):",
      "            t = time.perf_counter()",
      "            assert client.submit(inc, i, pure=False).result() == i + 1",
      "            ms.append((time.perf_counter() - t) * 1000)",
      "        print(json.dumps(ms))",
    ],
    [count],
    300_000,
  );
  return typeof out === "string" ? out : (JSON.parse(out.at(-1)!) as number[]);
}
