/**
 * The API users of multiprocessing, concurrent.futures, Dask and Ray reach for, end to end against
 * each job server kind (a broker, two worker nodes of two threads started through the CLI, a pool
 * from a config file): starmap and map over several iterables, imapUnordered with indexes,
 * errors: "return", retryOn, and futures (submit, apply, asCompleted). The same parts without
 * processes: settle.test.ts.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  ArgumentError,
  ClusterPool,
  FunctionShippingError,
  ItemSerializationError,
  MakePool,
  PoolError,
  RemoteError,
  asCompleted,
  moduleFunction,
  type Completed,
} from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";

const fixtures = new URL("./fixtures/pool-api-functions.js", import.meta.url);
const add = moduleFunction<[number, number], number>(fixtures, "add");
const flakyOnce = moduleFunction<[string, number, boolean], number>(fixtures, "flakyOnce");
const throwsCodeOnce = moduleFunction<[string, number, boolean], number>(fixtures, "throwsCodeOnce");
const logThenThrow = moduleFunction<[string, number], never>(fixtures, "logThenThrow");
const resetOnOne = moduleFunction<[string, number], number>(fixtures, "resetOnOne");
const logThenThrowAt = moduleFunction<readonly [string, number, number], number>(fixtures, "logThenThrowAt");
const holdUntilReleased = moduleFunction<{ dir: string; label: string }, string>(
  new URL("./fixtures/marker-functions.js", import.meta.url),
  "holdUntilReleased",
);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** "on HOST:PID" at the end of a RemoteError's message. */
const ON_NODE = String.raw` on [^:\s]+:\d+$`;

/** Chunks the worker nodes have run so far, summed. */
async function chunksRun(pool: ClusterPool): Promise<number> {
  const nodes = await pool.ping(5000);
  assert.equal(nodes.length, 2, JSON.stringify(nodes));
  return nodes.reduce((sum, node) => sum + node.numRequests, 0);
}

describe("asCompleted, on its own", () => {
  it("yields each promise's settled record with its index, in the order they settle", async () => {
    let release!: (value: string) => void;
    const late = new Promise<string>((resolve) => (release = resolve));
    const seen: Completed<string>[] = [];
    for await (const done of asCompleted([late, Promise.reject(new Error("no")), "plain"])) {
      seen.push(done);
      if (seen.length === 2) release("late");
    }
    assert.deepEqual(
      seen.map((c) => [c.index, c.status, c.status === "fulfilled" ? c.value : (c.reason as Error).message]),
      [
        [1, "rejected", "no"],
        [2, "fulfilled", "plain"],
        [0, "fulfilled", "late"],
      ],
    );
    assert.equal(seen[2].promise instanceof Promise, true);
  });

  it("an abort ends the iteration with an AbortError; a bad argument is named", async () => {
    const controller = new AbortController();
    const never = new Promise<never>(() => {});
    const iteration = (async () => {
      for await (const _ of asCompleted([never], { signal: controller.signal }));
    })();
    controller.abort(new Error("enough"));
    await assert.rejects(
      iteration,
      (e: Error) => e.name === "AbortError" && e.message === "asCompleted was aborted: enough",
    );
    await assert.rejects(
      asCompleted(5 as never).next(),
      (e: unknown) =>
        e instanceof ArgumentError &&
        e.message === "asCompleted promises: expected an iterable of promises, e.g. an array of pool.submit(...)",
    );
  });
});

for (const kind of jobServerKinds()) {
  describe(`the pool API on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;
    let dir: string;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      await cluster.startNode(2);
      await cluster.startNode(2);
      pool = await cluster.pool();
      dir = mkdtempSync(join(os.tmpdir(), "glimpse-pool-api-"));
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    describe("several arguments", () => {
      it("starmap calls fn(a, b) per tuple, in order; istarmap streams the same", async () => {
        const pairs = range(10).map((i): [number, string] => [i, "ab"[i % 2]]);
        const expected = pairs.map(([n, s]) => s.repeat(n));
        assert.deepEqual(await pool.starmap((n: number, s: string) => s.repeat(n), pairs, { chunksize: 3 }), expected);
        const streamed: string[] = [];
        for await (const value of pool.istarmap((n: number, s: string) => s.repeat(n), pairs, { chunksize: 4 }))
          streamed.push(value);
        assert.deepEqual(streamed, expected);
        assert.deepEqual(
          await pool.starmap(add, [
            [1, 2],
            [3, 4],
          ]),
          [3, 7],
          "a module function gets the arguments",
        );
        // A value that is no list of arguments is refused on this side, naming its place; any iterable spreads.
        await assert.rejects(
          pool.starmap((a: number) => a, [[1], 2 as never, [3]]),
          {
            name: "ArgumentError",
            message: "starmap item 1: expected an array of arguments, got number 2",
          },
        );
        async function* lists() {
          yield [1, 2];
          yield { a: 1 };
        }
        await assert.rejects(
          (async () => {
            for await (const value of pool.istarmap(add, lists() as never)) void value;
          })(),
          { name: "ArgumentError", message: "istarmap item 1: expected an array of arguments, got an object" },
        );
        assert.deepEqual(await pool.starmap(add, [new Set([1, 2]) as never]), [3]);
      });

      it("map over several iterables gives fn one item of each; the shortest ends it, and the others are closed", async () => {
        assert.deepEqual(
          await pool.map((a: number, b: number) => a * b, [1, 2, 3, 4], [10, 20, 30], { chunksize: 2 }),
          [10, 40, 90],
        );
        let closed = false;
        function* letters() {
          try {
            for (const c of "abcdefgh") yield c;
          } finally {
            closed = true;
          }
        }
        async function* counts() {
          for (let i = 1; i <= 3; i++) yield i;
        }
        assert.deepEqual(await pool.map((c: string, n: number) => c.repeat(n), letters(), counts()), [
          "a",
          "bb",
          "ccc",
        ]);
        assert.ok(closed, "the longer generator was closed");
        const out: number[] = [];
        for await (const value of pool.imap(add, [1, 2], [5, 6, 7])) out.push(value);
        assert.deepEqual(out, [6, 8]);
      });

      it("a source that is not iterable is named, as is a bad option", async () => {
        await assert.rejects(
          pool.starmap((a: number) => a, 5 as never),
          (e: unknown) =>
            e instanceof ArgumentError &&
            e.message === "starmap items: expected an iterable or async iterable, got number",
        );
        await assert.rejects(
          pool.map((a: number, b: number) => a + b, [1], null as never, {}),
          (e: unknown) =>
            e instanceof ArgumentError &&
            e.message === "map items (iterable 2): expected an iterable or async iterable, got null",
        );
        await assert.rejects(
          pool.starmap((a: number) => a, [[1]], { errors: "skip" as never }),
          (e: unknown) =>
            e instanceof ArgumentError && e.message === 'map option errors: expected "raise" or "return", got "skip"',
        );
      });
    });

    describe("results with their index", () => {
      it("imapUnordered with indexed: true yields [index, result] for every item once, which place into map's result", async () => {
        const items = range(50);
        const placed = new Array<number>(items.length);
        const seen = new Set<number>();
        for await (const [index, value] of pool.imapUnordered((x: number) => x * x, items, {
          chunksize: 3,
          indexed: true,
        })) {
          assert.ok(!seen.has(index), `index ${index} twice`);
          seen.add(index);
          placed[index] = value;
        }
        assert.deepEqual(placed, await pool.map((x: number) => x * x, items));
        const ordered: [number, number][] = [];
        for await (const pair of pool.imap((x: number) => -x, [7, 8], { indexed: true })) ordered.push(pair);
        assert.deepEqual(ordered, [
          [0, -7],
          [1, -8],
        ]);
      });

      it("map refuses indexed: its results are in input order", async () => {
        await assert.rejects(
          pool.map((x: number) => x, [1], { indexed: true } as never),
          (e: unknown) =>
            e instanceof ArgumentError &&
            e.message ===
              "map option indexed: only imap, imapUnordered and istarmap yield indexes (map's results are in input order)",
        );
      });
    });

    describe('errors: "return"', () => {
      it("gives every item's outcome in its place: the value, or the item's RemoteError; every result is computed", async () => {
        const out = await pool.map(
          function failOnTwoAndFive(x: number) {
            if (x === 2 || x === 5) throw new RangeError(`bad ${x}`);
            return x * 2;
          },
          range(10),
          { chunksize: 4, errors: "return" },
        );
        // Items after a failure in its chunk (3 after 2, 6 and 7 after 5) run and keep their results.
        assert.deepEqual(
          out.map((o) => (o instanceof RemoteError ? o.index : o)),
          [0, 2, 2, 6, 8, 5, 12, 14, 16, 18],
        );
        const error = out[5] as RemoteError;
        assert.match(error.message, new RegExp(`^failOnTwoAndFive\\(item 5\\) threw RangeError: bad 5${ON_NODE}`));
        assert.equal((error.cause as Error).name, "RangeError");
        assert.match(
          (error.cause as Error).stack ?? "",
          /pool-api\.test\.(ts|js):\d+:\d+/,
          "the stack points at this file",
        );
      });

      it("imap and starmap give outcomes too; the default still rejects at the first error", async () => {
        const streamed: unknown[] = [];
        for await (const value of pool.imap((x: number) => (x === 1 ? JSON.parse("{") : x), [0, 1, 2], {
          errors: "return",
        }))
          streamed.push(value);
        assert.equal(streamed.length, 3);
        assert.equal(streamed[0], 0);
        assert.equal(streamed[2], 2);
        assert.equal(((streamed[1] as RemoteError).cause as Error).name, "SyntaxError");
        const pairs = await pool.starmap(
          (a: number, b: number) => (b === 0 ? (null as unknown as { x: number }).x : a / b),
          [
            [1, 1],
            [1, 0],
          ],
          {
            errors: "return",
          },
        );
        assert.equal(pairs[0], 1);
        assert.match((pairs[1] as RemoteError).message, /^anonymous function\(item 1\) threw TypeError: /);
        await assert.rejects(
          pool.map((x: number) => (x === 1 ? JSON.parse("{") : x), [0, 1, 2]),
          (e: unknown) => e instanceof RemoteError && e.index === 1,
        );
      });

      it("a chunk given up after its retries (its item kills the thread) is each of its items' PoolError; the others keep theirs", async () => {
        const out = await pool.map((x: number) => (x === 5 ? process.exit(1) : x), range(8), {
          chunksize: 2,
          retries: 0,
          errors: "return",
        });
        assert.deepEqual([out[0], out[1], out[2], out[3], out[6], out[7]], [0, 1, 2, 3, 6, 7]);
        for (const lost of [out[4], out[5]]) {
          assert.ok(lost instanceof PoolError && lost.code === "CHUNK_FAILED", String(lost));
          assert.match(lost.message, /^chunk 2 \(items 4\.\.5\) failed 1 time: /);
        }
      });
    });

    describe("retryOn", () => {
      it("retries the items whose error it names after a backoff; nothing that succeeded runs again", async () => {
        const run = mkdtempSync(join(dir, "flaky-"));
        const flaky = new Set([2, 5, 9]);
        const out = await pool.starmap(
          flakyOnce,
          range(12).map((i): [string, number, boolean] => [run, i, flaky.has(i)]),
          { chunksize: 4, retryOn: ["ECONNRESET"], retries: 2, backoff: 10 },
        );
        assert.deepEqual(
          out,
          range(12).map((i) => i * 10),
        );
        const runs = readFileSync(join(run, "runs"), "utf8").trim().split("\n").map(Number);
        for (const i of range(12))
          assert.equal(runs.filter((r) => r === i).length, flaky.has(i) ? 2 : 1, `runs of item ${i}`);
      });

      it("past its retries the map rejects with the item's RemoteError; an error it does not name is not retried; a predicate works", async () => {
        const down = mkdtempSync(join(dir, "down-"));
        await assert.rejects(
          pool.starmap(
            resetOnOne,
            [
              [down, 0],
              [down, 1],
              [down, 2],
            ],
            { retryOn: ["ECONNRESET"], retries: 2, backoff: 1 },
          ),
          (e: unknown) =>
            e instanceof RemoteError &&
            new RegExp(`^resetOnOne\\(item 1\\) threw Error: read ECONNRESET${ON_NODE}`).test(e.message),
        );
        const downRuns = readFileSync(join(down, "runs"), "utf8").trim().split("\n").sort();
        assert.deepEqual(downRuns, ["0", "1", "1", "1", "2"], "item 1 ran 1 + retries times, the others once");
        const run = mkdtempSync(join(dir, "typeerror-"));
        await assert.rejects(
          pool.starmap(logThenThrow, [[run, 1]], { retryOn: ["ECONNRESET"], retries: 3 }),
          (e: unknown) =>
            e instanceof RemoteError &&
            new RegExp(`^logThenThrow\\(item 0\\) threw TypeError: no 1${ON_NODE}`).test(e.message),
        );
        assert.equal(readFileSync(join(run, "runs"), "utf8"), "1\n", "run once");
        const streamed: number[] = [];
        const stopped = (async () => {
          for await (const value of pool.istarmap(
            logThenThrowAt,
            [0, 1, 2, 3, 4, 5].map((i) => [run, i, 4] as const),
            {
              chunksize: 6,
              retryOn: ["ECONNRESET"],
            },
          ))
            streamed.push(value);
        })();
        await assert.rejects(stopped, (e: unknown) => e instanceof RemoteError && e.index === 4);
        assert.deepEqual(streamed, [0, 1, 2, 3], "the results before the failing item, then its error");
        const byPredicate = mkdtempSync(join(dir, "predicate-"));
        assert.deepEqual(
          await pool.starmap(flakyOnce, [[byPredicate, 4, true]], {
            retryOn: (error) => error.code === "ECONNRESET" && error.message.includes("read"),
            backoff: 1,
          }),
          [40],
        );
      });

      it("a thrown object that is no Error is shown in the message, and its code is matched as an Error's is", async () => {
        const error = await pool
          .map(() => {
            throw { code: "E1", detail: 5 };
          }, [0])
          .then(
            () => assert.fail("resolved"),
            (e: unknown) => e as RemoteError,
          );
        assert.ok(error instanceof RemoteError, String(error));
        assert.match(
          error.message,
          new RegExp(
            `^anonymous function\\(item 0\\) threw Error: a non-Error value was thrown: \\{ code: 'E1', detail: 5 \\}${ON_NODE}`,
          ),
        );
        assert.equal((error.cause as Error & { code: unknown }).code, "E1");
        const primitives = await pool.map(
          (x: number) => {
            throw [`bad ${x}`, x, undefined][x];
          },
          [0, 1, 2],
          { errors: "return" },
        );
        assert.deepEqual(
          primitives.map((o) => (o as RemoteError).message.replace(new RegExp(ON_NODE), "")),
          [
            "anonymous function(item 0) threw Error: a non-Error value was thrown: 'bad 0'",
            "anonymous function(item 1) threw Error: a non-Error value was thrown: 1",
            "anonymous function(item 2) threw Error: a non-Error value was thrown: undefined",
          ],
        );
        const run = mkdtempSync(join(dir, "coded-"));
        const out = await pool.starmap(
          throwsCodeOnce,
          range(4).map((i): [string, number, boolean] => [run, i, i === 1]),
          { retryOn: ["E_BUSY"], retries: 1, backoff: 1 },
        );
        assert.deepEqual(out, [0, 10, 20, 30]);
        const runs = readFileSync(join(run, "runs"), "utf8").trim().split("\n").sort();
        assert.deepEqual(runs, ["0", "1", "1", "2", "3"], "item 1 ran again, its thrown code matched");
      });
    });

    describe("futures", () => {
      it("submit resolves to fn(...args) and apply takes the arguments as a list", async () => {
        assert.equal(await pool.submit((a: number, b: number) => a * b, 6, 7), 42);
        assert.equal(await pool.submit(async (s: string) => s.toUpperCase(), "up"), "UP");
        assert.equal(await pool.apply(add, [2, 3]), 5);
        assert.deepEqual(await Promise.all([pool.submit(add, 1, 1), pool.submit((x: number) => -x, 9)]), [2, -9]);
        const plusTen = (a: number, b = 10) => a + b;
        assert.deepEqual(
          await Promise.all([pool.submit(plusTen, 1), pool.submit(plusTen, 1, 2), pool.submit(plusTen, 5)]),
          [11, 3, 15],
          "calls of one function with one and with two arguments in one batch",
        );
      });

      it("calls made in one turn travel in chunks, as one map of them would", async () => {
        const before = await chunksRun(pool);
        const inc = (x: number) => x + 1;
        const calls = range(1000).map((i) => pool.apply(inc, [i], { chunksize: 250 }));
        assert.deepEqual(
          await Promise.all(calls),
          range(1000).map((i) => i + 1),
        );
        assert.equal((await chunksRun(pool)) - before, 4, "1000 calls in chunks of 250");
      });

      it("a call's error rejects its own promise only, naming the function and the call", async () => {
        const calls = range(6).map((i) =>
          pool.submit(function throwsOnThree(x: number) {
            if (x === 3) throw new RangeError("three");
            return x;
          }, i),
        );
        const settled = await Promise.allSettled(calls);
        assert.deepEqual(
          settled.map((s) => s.status),
          ["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"],
        );
        const reason = (settled[3] as PromiseRejectedResult).reason as RemoteError;
        assert.ok(reason instanceof RemoteError);
        assert.match(reason.message, new RegExp(`^throwsOnThree\\(3\\) threw RangeError: three${ON_NODE}`));
        assert.equal(reason.index, undefined, "a call is no item of a list: its place in a batch is not shown");
        const factor = 3;
        await assert.rejects(
          pool.submit((x: number) => x * factor, 1),
          (e: unknown) =>
            e instanceof FunctionShippingError && /uses "factor" from its enclosing scope/.test(e.message),
        );
        await assert.rejects(
          pool.apply((x: number) => x, 1 as never),
          (e: unknown) =>
            e instanceof ArgumentError && e.message === "apply args: expected an array of arguments, got 1",
        );
        await assert.rejects(
          pool.apply((x: number) => x, [1], { onProgress: () => {} } as never),
          (e: unknown) => e instanceof ArgumentError && /^apply option onProgress: unknown option/.test(e.message),
        );
      });

      it("a call's error shows its arguments short, for several arguments, a module function and retries spent", async () => {
        const repeat = (text: string, times: number) => text.repeat(times);
        const [bad, long] = await Promise.allSettled([
          pool.submit(repeat, "ab", -1),
          pool.submit(repeat, "x".repeat(100), -2),
        ]);
        const messages = [bad, long].map((s) => ((s as PromiseRejectedResult).reason as RemoteError).message);
        assert.match(
          messages[0],
          new RegExp(`^repeat\\('ab', -1\\) threw RangeError: Invalid count value: -1${ON_NODE}`),
        );
        assert.match(
          messages[1],
          new RegExp(
            String.raw`^repeat\('xxxxxxxxxxxxxxxxxxxxxxxx'\.\.\. 76 more characters, -2\) threw RangeError: Invalid count value: -2` +
              ON_NODE,
          ),
        );
        const sum = (values: number[], meta: object) =>
          values.reduce((a, b) => a + b) + (meta as { bad: number }).bad.toFixed();
        await assert.rejects(pool.submit(sum, range(100), { tag: "t", deep: { no: 1 } }), (e: unknown) => {
          assert.ok(e instanceof RemoteError);
          assert.match(
            e.message,
            new RegExp(
              String.raw`^sum\(\[ 0, 1, 2, 3, \.\.\. 96 more items \], { tag: 't', deep: \[Object\] }\) threw TypeError: ` +
                String.raw`Cannot read properties of undefined \(reading 'toFixed'\)` +
                ON_NODE,
            ),
          );
          return e.index === undefined;
        });
        const run = mkdtempSync(join(dir, "submit-throws-"));
        await assert.rejects(pool.apply(logThenThrow, [run, 7]), (e: unknown) => {
          assert.ok(e instanceof RemoteError);
          assert.match(
            e.message,
            new RegExp(
              String.raw`^logThenThrow\('[^']{24}'\.\.\. \d+ more characters, 7\) threw TypeError: no 7` + ON_NODE,
            ),
          );
          return true;
        });
        await assert.rejects(
          pool.apply(resetOnOne, [run, 1], { retryOn: ["ECONNRESET"], retries: 1, backoff: 1 }),
          (e: unknown) => {
            assert.ok(e instanceof RemoteError);
            assert.match(
              e.message,
              new RegExp(
                String.raw`^resetOnOne\('[^']{24}'\.\.\. \d+ more characters, 1\) threw Error: read ECONNRESET` +
                  ON_NODE,
              ),
            );
            return e.index === undefined;
          },
        );
      });

      it("an argument that cannot be sent rejects its own call only, naming it; the batch's other calls run", async () => {
        class Point {
          constructor(readonly x: number) {}
        }
        const sq = (a: number) => a * a;
        const args: unknown[] = [1, new Point(3), 4, Symbol("s"), 5];
        // One batch in one chunk, and one in chunks of two (a refusal in one chunk, the others' calls going on).
        for (const chunksize of [undefined, 2]) {
          const settled = await Promise.allSettled(
            args.map((a) => pool.apply(sq, [a as number], chunksize === undefined ? undefined : { chunksize })),
          );
          assert.deepEqual(
            settled.map((s) => (s.status === "fulfilled" ? s.value : "rejected")),
            [1, "rejected", 16, "rejected", 25],
            `chunksize ${chunksize}`,
          );
          const [point, symbol] = [settled[1], settled[3]].map((s) => (s as PromiseRejectedResult).reason as Error);
          assert.ok(point instanceof ItemSerializationError && symbol instanceof ItemSerializationError);
          const travel =
            "(items travel as data: primitives, plain objects, arrays, and the built-in Date, RegExp, Map, Set, Error, ArrayBuffer and typed arrays; no functions, symbols or instances of other classes)";
          assert.equal(
            point.message,
            "sq(Point { x: 3 }): cannot be sent to the workers: it is an instance of class Point, which would arrive as a plain object, without its methods and getters; send its data (e.g. { ...value } or a toJSON()), and rebuild the instance in the function if it needs one " +
              travel,
          );
          assert.equal(
            symbol.message,
            `sq(Symbol(s)): cannot be sent to the workers: Symbol(s) could not be cloned. ${travel}`,
          );
        }
      });

      it("an argument over max_packet_size rejects its own call only, with TOO_LARGE naming it", async () => {
        const small = await MakePool(cluster.configFile, {
          open: cluster.server.clientOptions().open,
          maxPacketSize: 4096,
        });
        try {
          const len = (s: string) => s.length;
          const big = "x".repeat(10_000);
          const message =
            "len('xxxxxxxxxxxxxxxxxxxxxxxx'... 9976 more characters) cannot be sent: its arguments are 10005 bytes (9.8 KiB) encoded, over the 4096 bytes (4 KiB) a job server packet may carry (max_packet_size); raise max_packet_size ([client], every member; MakePool's maxPacketSize) and the embedded job server's --max-packet, or send less";
          // With the others in its chunk, and alone in a chunk of its own.
          for (const chunksize of [undefined, 1]) {
            const options = chunksize === undefined ? undefined : { chunksize };
            const settled = await Promise.allSettled(["a", big, "bc"].map((s) => small.apply(len, [s], options)));
            assert.deepEqual(
              settled.map((s) => (s.status === "fulfilled" ? s.value : "rejected")),
              [1, "rejected", 2],
              `chunksize ${chunksize}`,
            );
            const reason = (settled[1] as PromiseRejectedResult).reason as PoolError;
            assert.ok(reason instanceof PoolError, String(reason));
            assert.equal(reason.code, "TOO_LARGE");
            assert.equal(reason.message, message);
          }
        } finally {
          await small.close();
        }
      });

      it("retryOn's predicate is given what the function threw, the call's argument list and the RemoteError", async () => {
        const seen: unknown[][] = [];
        const retryOn = (error: { message: string }, item: unknown, remote: RemoteError) => {
          seen.push([error.message, item, remote instanceof RemoteError]);
          return true;
        };
        const fails = (x: number) => {
          throw new Error(`no ${x}`);
        };
        await assert.rejects(pool.apply(fails, [7], { retryOn, retries: 1, backoff: 1 }), RemoteError);
        assert.deepEqual(seen, [
          ["no 7", [7], true],
          ["no 7", [7], true],
        ]);
        seen.length = 0;
        const run = mkdtempSync(join(dir, "predicate-item-"));
        assert.deepEqual(await pool.starmap(flakyOnce, [[run, 4, true]], { retryOn, backoff: 1 }), [40]);
        assert.deepEqual(seen, [["read ECONNRESET", [run, 4, true], true]]);
      });

      it("retryOn works for calls too", async () => {
        const run = mkdtempSync(join(dir, "submit-flaky-"));
        const calls = [1, 2, 3].map((i) =>
          pool.apply(flakyOnce, [run, i, i === 2], { retryOn: ["ECONNRESET"], backoff: 1 }),
        );
        assert.deepEqual(await Promise.all(calls), [10, 20, 30]);
      });

      it("an AbortSignal cancels the calls made with it, queued or running; the others finish and the cluster serves on", async () => {
        const early = new AbortController();
        early.abort();
        await assert.rejects(pool.apply(add, [1, 2], { signal: early.signal }), {
          name: "AbortError",
          message: "the call was aborted",
        });
        // Aborted while still in its batch, before the batch is sent at the end of this turn.
        const soon = new AbortController();
        const queued = pool.apply(add, [3, 4], { signal: soon.signal });
        soon.abort(new Error("changed my mind"));
        await assert.rejects(queued, { name: "AbortError", message: "the call was aborted: changed my mind" });

        const controller = new AbortController();
        const label = `held-${kind.name}`;
        const held = pool.apply(holdUntilReleased, [{ dir, label }], { signal: controller.signal });
        const free = pool.submit((x: number) => x + 1, 1);
        try {
          await eventually(() => existsSync(join(dir, `${label}.started`)), 30_000, "the held call to start");
          controller.abort();
          await assert.rejects(held, { name: "AbortError", message: "the call was aborted" });
          assert.equal(await free, 2);
        } finally {
          writeFileSync(join(dir, `${label}.released`), "");
        }
        assert.equal(await pool.submit(add, 20, 22), 42);
      });

      it("asCompleted yields the calls as they finish, a failed one as a rejected record", async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve)).then(() => "gate");
        const calls: Promise<unknown>[] = [
          gate,
          pool.submit((x: number) => x * 2, 21),
          pool.submit(() => (null as unknown as { boom: number }).boom),
        ];
        const order: string[] = [];
        for await (const done of asCompleted(calls)) {
          order.push(`${done.index}:${done.status}`);
          if (order.length === 2) release();
        }
        assert.deepEqual(order.slice(2), ["0:fulfilled"]);
        assert.deepEqual(order.slice(0, 2).sort(), ["1:fulfilled", "2:rejected"]);
      });
    });
  });
}
