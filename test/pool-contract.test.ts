/**
 * What a pool's user relies on beyond the happy path, end to end against
 * each job server kind (a broker, one worker node started through the CLI,
 * a client pool from a config file): shared memory travels as items do and a
 * refused entry changes nothing; a failing imap gives every result computed
 * before the failure; progress counts failed items and retries apart; every
 * method of a closed pool rejects alike, and every call a pool runs when it
 * closes rejects alike whatever its stage; an abort says its reason.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  ArgumentError,
  ClusterPool,
  ItemSerializationError,
  MemoryValueError,
  PoolError,
  RemoteError,
  type Progress,
  type WorkerOutput,
} from "../lib/index.js";
import { jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";

/** The one free name a shipped function has on a node. */
declare const memory: { get(key: string): unknown; keys(): string[] };

class Model {
  constructor(readonly weights: number[]) {}
  predict(x: number) {
    return x * this.weights[0];
  }
}

/** What a rejection was: it must be one. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    (value) => assert.fail(`resolved with ${JSON.stringify(value)}`),
    (error: Error) => error,
  );
}

/** What a stream yielded before it threw, and what it threw (it must throw). */
async function until<T>(stream: AsyncIterable<T>): Promise<{ got: T[]; error: Error }> {
  const got: T[] = [];
  try {
    for await (const value of stream) got.push(value);
  } catch (error) {
    return { got, error: error as Error };
  }
  return assert.fail(`the stream ended without an error, after ${JSON.stringify(got)}`);
}

/** What a promise settles to, or a rejection naming `what` past `ms`: a call that never settles fails its test instead of hanging it. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** An input that gives one item, then waits for ever for its next; `waiting` is told when it begins to. */
async function* stalled<T>(first: T, waiting: () => void = () => {}): AsyncGenerator<T> {
  yield first;
  waiting();
  await new Promise(() => {});
}

/** A count of events, and a promise of the nth. */
function counter(n: number): { tick: () => void; reached: Promise<void> } {
  let count = 0;
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  return { tick: () => ++count === n && reach(), reached };
}

/** Says on its node that it runs (a console line), then holds its thread for ten minutes. */
async function holds(x: number): Promise<number> {
  console.log(`holding ${x}`);
  await new Promise((resolve) => setTimeout(resolve, 600_000));
  return x;
}

/** Item 5 throws; item 0 takes a while, so that its chunk still runs when item 5's fails. */
async function fiveThrows(x: number): Promise<number> {
  if (x === 0) await new Promise((resolve) => setTimeout(resolve, 300));
  if (x === 5) throw new RangeError("five");
  return x * 10;
}

for (const kind of jobServerKinds()) {
  describe(`pool contract on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      await cluster.startNode(2);
      pool = await cluster.pool();
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
    });

    it("shared memory travels as items do: Map, Set, Date, BigInt, NaN, typed arrays and cycles arrive as themselves", async () => {
      const circular: { name: string; self?: unknown } = { name: "loop" };
      circular.self = circular;
      const entries = {
        m: new Map([[1, 2]]),
        d: new Date(0),
        n: NaN,
        s: new Set([1]),
        big: 10n,
        f64: new Float64Array([1.5, -0]),
        circular,
      };
      await pool.setMemory(entries);
      // Looked at on the worker, so that the result's own trip back proves nothing by itself.
      const [seen] = await pool.map(() => {
        const m = memory.get("m") as Map<number, number>;
        const c = memory.get("circular") as { self: unknown };
        return {
          m: m instanceof Map && m.get(1),
          d: (memory.get("d") as Date) instanceof Date && (memory.get("d") as Date).getTime(),
          n: Number.isNaN(memory.get("n")),
          s: (memory.get("s") as Set<number>) instanceof Set && (memory.get("s") as Set<number>).has(1),
          big: memory.get("big") === 10n,
          f64: Array.from(memory.get("f64") as Float64Array),
          circular: c.self === c,
        };
      }, [0]);
      assert.deepEqual(seen, { m: 2, d: 0, n: true, s: true, big: true, f64: [1.5, -0], circular: true });
      const [back] = await pool.map(() => ["m", "d", "big", "f64"].map((key) => memory.get(key)), [0]);
      assert.deepEqual(back, [entries.m, entries.d, entries.big, entries.f64]);
    });

    it("an entry that cannot travel is refused before anything is sent, naming its key; the pool is as it was", async () => {
      await pool.setMemory({ offset: 100 });
      const version = pool.channels.memory.version;
      const refusals: [Record<string, unknown>, string][] = [
        [
          { fine: 1, helper: (x: number) => x },
          'setMemory entry "helper": it is a function: shared memory holds data, and functions cannot travel: define it inside the function you map, or put both in a module and ship moduleFunction(new URL("./module.js", import.meta.url), "name"), which imports it',
        ],
        [
          {
            config: {
              scale: 2,
              transform: {
                apply(x: number) {
                  return x;
                },
              },
            },
          },
          'setMemory entry "config": its .transform.apply is a function: shared memory holds data, and functions cannot travel: define it inside the function you map, or put both in a module and ship moduleFunction(new URL("./module.js", import.meta.url), "name"), which imports it',
        ],
        [
          { model: new Model([2]) },
          'setMemory entry "model": it is an instance of class Model, which would arrive as a plain object, without its methods and getters; send its data (e.g. { ...value } or a toJSON()), and rebuild the instance in the function if it needs one',
        ],
        [
          { table: new Map([["a", [new Model([1])]]]) },
          'setMemory entry "table": its .get("a")[0] is an instance of class Model, which would arrive as a plain object, without its methods and getters; send its data (e.g. { ...value } or a toJSON()), and rebuild the instance in the function if it needs one',
        ],
        [{ tag: Symbol("x") }, 'setMemory entry "tag": cannot travel: Symbol(x) could not be cloned.'],
      ];
      for (const [entries, message] of refusals) {
        const error = await rejection(pool.setMemory(entries));
        assert.ok(error instanceof MemoryValueError, String(error));
        assert.equal(error.message, message);
        assert.equal(error.code, "BAD_ARGUMENT");
        assert.equal(error.key, message.slice('setMemory entry "'.length, message.indexOf('":')));
        assert.equal(pool.channels.memory.version, version, "the memory's version did not change");
      }
      // Nothing of a refused set reached the nodes, maps run, and the next set works.
      assert.deepEqual(await pool.map((x: number) => [x + (memory.get("offset") as number), memory.get("fine")], [1]), [
        [101, undefined],
      ]);
      await pool.setMemory({ offset: 200 });
      assert.deepEqual(await pool.map((x: number) => x + (memory.get("offset") as number), [1, 2]), [201, 202]);
    });

    it("a result holding a class instance is refused on the worker as its item's RemoteError, naming where it sits and its class", async () => {
      const advice =
        ", which would arrive as a plain object, without its methods and getters; return plain data instead (e.g. { ...value } or a toJSON()), and rebuild the instance from it if the caller needs one";
      const url = await rejection(pool.map(() => new URL("http://a/"), [1]));
      assert.ok(url instanceof RemoteError && url.index === 0, String(url));
      assert.equal(
        url.message.replace(/ on \S+:\d+$/, ""),
        `anonymous function(item 0) threw NodeError: the result cannot be sent back: it is an instance of class URL${advice}`,
      );
      assert.equal((url.cause as Error & { code: string }).code, "RESULT_NOT_SENDABLE");
      // Inside the result, in a chunk that stops at it: the items before it come back with its error.
      const { got, error } = await until(
        pool.imap(
          (x: number) => {
            class Point {
              constructor(readonly x: number) {}
              get double() {
                return this.x * 2;
              }
            }
            return x === 2 ? { a: [x, { p: new Point(x) }] } : x;
          },
          [0, 1, 2, 3],
          { chunksize: 4 },
        ),
      );
      assert.deepEqual(got, [0, 1]);
      assert.ok(error instanceof RemoteError && error.index === 2, String(error));
      assert.equal(
        error.message.replace(/ on \S+:\d+$/, ""),
        `anonymous function(item 2) threw NodeError: the result cannot be sent back: its .a[1].p is an instance of class Point${advice}`,
      );
      // With errors: "return" it is the item's outcome; a submitted call rejects with it.
      const out = await pool.map((x: number) => (x === 1 ? new Map([["at", new URL("http://a/")]]) : x), [0, 1, 2], {
        chunksize: 3,
        errors: "return",
      });
      assert.deepEqual([out[0], out[2]], [0, 2]);
      assert.equal(
        (out[1] as RemoteError).message.replace(/ on \S+:\d+$/, ""),
        `anonymous function(item 1) threw NodeError: the result cannot be sent back: its .get("at") is an instance of class URL${advice}`,
      );
      const call = await rejection(pool.submit(() => new URL("http://a/")));
      assert.equal(
        call.message.replace(/ on \S+:\d+$/, ""),
        `anonymous function() threw NodeError: the result cannot be sent back: it is an instance of class URL${advice}`,
      );
      // Plain data and the built-in types come back as themselves.
      const builtIns = () => [
        "s",
        { a: [1, null] },
        new Map([[1, new Set([2n])]]),
        new Date(0),
        /x/g,
        new Float64Array([0.5]),
        Buffer.from("b"),
        new RangeError("r"),
      ];
      const built = await pool.map(builtIns, [0]);
      assert.deepEqual(built[0].slice(0, 7), builtIns().slice(0, 7));
      assert.ok(built[0][7] instanceof RangeError && built[0][7].message === "r");
    });

    it("setMemory refuses a Map, a Set, an array or a class instance for its entries, before anything is sent", async () => {
      await pool.setMemory({ a: "kept" });
      const version = pool.channels.memory.version;
      const refusals: [unknown, string][] = [
        [new Map([["a", 1]]), "setMemory entries: got a Map: pass an object of entries, e.g. Object.fromEntries(map)"],
        [new Set(["a"]), "setMemory entries: got a Set: pass an object of entries, e.g. { factor: 3 }"],
        [[["a", 1]], "setMemory entries: got an array: pass an object of entries, e.g. { factor: 3 }"],
        [
          new Model([1]),
          "setMemory entries: got an instance of class Model: pass an object of entries, e.g. { factor: 3 }",
        ],
        [null, "setMemory entries: expected an object of entries, e.g. { factor: 3 }"],
        [5, "setMemory entries: expected an object of entries, e.g. { factor: 3 }"],
      ];
      for (const [entries, message] of refusals) {
        const error = await rejection(pool.setMemory(entries as Record<string, unknown>));
        assert.ok(error instanceof ArgumentError, String(error));
        assert.equal(error.message, message);
        assert.equal(pool.channels.memory.version, version, `${message}: the memory's version did not change`);
      }
      assert.deepEqual(await pool.map(() => memory.get("a"), [0]), ["kept"]);
      // A plain object, also one without a prototype, is entries.
      const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: "bare" });
      await pool.setMemory(bare);
      assert.deepEqual(await pool.map(() => memory.get("a"), [0]), ["bare"]);
    });

    it("imap yields every result before the failing item, even of chunks still running then, and rejects with its error", async () => {
      const items = Array.from({ length: 12 }, (_, i) => i);
      const { got, error } = await until(pool.imap(fiveThrows, items, { chunksize: 2 }));
      assert.deepEqual(got, [0, 10, 20, 30, 40]);
      assert.ok(error instanceof RemoteError, String(error));
      assert.equal(error.index, 5);
      assert.match(error.message, /^fiveThrows\(item 5\) threw RangeError: five on \S+:\d+$/);
      // map keeps rejecting at once, and the pool serves the next map.
      assert.equal(((await rejection(pool.map(fiveThrows, items, { chunksize: 2 }))) as RemoteError).index, 5);
      assert.deepEqual(await pool.map((x: number) => x + 1, [1]), [2]);
    });

    it("imapUnordered yields what finished before the failure, with the failing chunk's items before the one that threw", async () => {
      const items = Array.from({ length: 12 }, (_, i) => i);
      const { got, error } = await until(pool.imapUnordered(fiveThrows, items, { chunksize: 2 }));
      assert.ok(error instanceof RemoteError && error.index === 5, String(error));
      assert.ok(got.includes(40), `item 4, computed before item 5 threw, was given: ${JSON.stringify(got)}`);
      assert.ok(!got.includes(50));
      assert.equal(new Set(got).size, got.length, "none twice");
      for (const value of got) assert.ok(items.map((x) => x * 10).includes(value));
    });

    it("progress counts the items that failed, and the retries apart", async () => {
      const seen: Progress[] = [];
      const items = Array.from({ length: 8 }, (_, i) => i);
      await rejection(pool.map(fiveThrows, items, { chunksize: 2, onProgress: (p) => seen.push(p) }));
      assert.deepEqual(
        { failed: seen.at(-1)?.failed, retries: seen.at(-1)?.retries },
        { failed: 1, retries: 0 },
        "the item that threw failed; nothing was retried",
      );
      seen.length = 0;
      const never = () => new Promise(() => {});
      const error = await rejection(
        pool.map(never, [1, 2, 3], { chunksize: 3, timeout: 300, retries: 1, onProgress: (p) => seen.push(p) }),
      );
      assert.ok(error instanceof PoolError && error.code === "CHUNK_TIMEOUT", String(error));
      assert.deepEqual(
        seen.at(-1),
        { done: 0, total: 3, failed: 3, retries: 1 },
        "every item of the chunk failed, after one retry",
      );
      assert.deepEqual(await pool.map((x: number) => x, [7]), [7]);
      // errors: "return": an item that threw is a result (its error) and a failure both.
      seen.length = 0;
      const everyFifthThrows = (x: number) => {
        if (x % 5 === 0) throw new RangeError(`item ${x}`);
        return x;
      };
      const outcomes = await pool.map(
        everyFifthThrows,
        Array.from({ length: 20 }, (_, i) => i),
        {
          chunksize: 4,
          errors: "return",
          onProgress: (p) => seen.push(p),
        },
      );
      assert.equal(outcomes.filter((outcome) => outcome instanceof RemoteError).length, 4);
      assert.deepEqual(seen.at(-1), { done: 20, total: 20, failed: 4, retries: 0 }, "the four items that threw failed");
      // Items that could not be sent are failures too, however many of a chunk (each refused in one pass).
      seen.length = 0;
      const unsendable = Array.from({ length: 12 }, (_, i) => (i % 3 === 1 ? Symbol(`s${i}`) : i));
      const refused = await pool.map((x: unknown) => x, unsendable, {
        chunksize: 12,
        errors: "return",
        onProgress: (p) => seen.push(p),
      });
      assert.deepEqual(
        refused.map((outcome, i) => (outcome instanceof ItemSerializationError ? `refused ${outcome.index}` : i)),
        [0, "refused 1", 2, 3, "refused 4", 5, 6, "refused 7", 8, 9, "refused 10", 11],
      );
      assert.deepEqual(seen.at(-1), { done: 12, total: 12, failed: 4, retries: 0 }, "the four refused items failed");
    });

    it("every method of a closed pool rejects with PoolError CLOSED", async () => {
      const closed = await cluster.pool();
      await closed.close();
      const first = async (stream: AsyncIterable<unknown>) => {
        for await (const value of stream) return value;
      };
      const calls: Record<string, () => Promise<unknown>> = {
        map: () => closed.map((x: number) => x, [1]),
        imap: () => first(closed.imap((x: number) => x, [1])),
        imapUnordered: () => first(closed.imapUnordered((x: number) => x, [1])),
        setMemory: () => closed.setMemory({ offset: 1 }),
        clearMemory: () => closed.clearMemory(),
        ping: () => closed.ping(),
        drain: () => closed.drain({ all: true }),
        online: () => closed.online({ all: true }),
        restartWorkers: () => closed.restartWorkers(),
        killWorkers: () => closed.killWorkers(),
        starmap: () => closed.starmap((a: number, b: number) => a + b, [[1, 2]]),
        istarmap: () => first(closed.istarmap((a: number, b: number) => a + b, [[1, 2]])),
        submit: () => closed.submit((a: number) => a, 1),
        apply: () => closed.apply((a: number) => a, [1]),
      };
      // Every public method is in the table: one added to the pool must be added here too.
      const methods = Object.getOwnPropertyNames(ClusterPool.prototype).filter(
        (name) =>
          typeof Object.getOwnPropertyDescriptor(ClusterPool.prototype, name)?.value === "function" &&
          !["constructor", "close", "stream", "streamOf", "cacheFunction"].includes(name),
      );
      assert.deepEqual(methods.sort(), Object.keys(calls).sort());
      for (const [name, call] of Object.entries(calls)) {
        const error = await rejection(call());
        assert.ok(error instanceof PoolError, `${name}: ${String(error)}`);
        assert.equal(error.code, "CLOSED", name);
        assert.equal(error.message, "the pool is closed", name);
      }
      await closed.close(); // a second close is no error
      await closed[Symbol.asyncDispose]();
    });

    it("close() rejects every call still running with PoolError CLOSED, whatever its stage, waits on no input and cancels their chunks", async () => {
      const closing = await cluster.pool();
      // Three inputs waiting for their next item, and both threads of the cluster's node holding this pool's
      // chunks (their console lines say so).
      const started = counter(5);
      const output = (_line: WorkerOutput) => started.tick();
      const running: Record<string, Promise<unknown>> = {
        "map waiting on its input": closing.map((x: number) => x, stalled(1, started.tick)),
        "imap waiting on its input": until(closing.imap((x: number) => x, stalled(1, started.tick))).then(
          ({ got, error }) => {
            assert.deepEqual(got, []);
            throw error;
          },
        ),
        "starmap waiting on its input": closing.starmap(
          (a: number, b: number) => a + b,
          stalled<[number, number]>([1, 2], started.tick),
        ),
        "map with its chunk running": closing.map(holds, [1], { output }),
        "call running": closing.apply(holds, [2], { output }),
      };
      for (const promise of Object.values(running)) promise.catch(() => {});
      await within(started.reached, 60_000, "three inputs waiting and two chunks running");
      // Made in the turn close() is called: a map whose first step is done, a call not yet sent in its batch.
      running["map just begun"] = closing.map((x: number) => x, [1]);
      running["call not yet sent"] = closing.submit((x: number) => x, 3);
      for (const promise of Object.values(running)) promise.catch(() => {});
      await within(closing.close(), 30_000, "close()");
      for (const [name, promise] of Object.entries(running)) {
        const error = await within(rejection(promise), 10_000, name);
        assert.ok(error instanceof PoolError, `${name}: ${String(error)}`);
        assert.equal(error.code, "CLOSED", name);
        const what = name.startsWith("call") ? "the call" : "the map";
        assert.equal(error.message, `the pool was closed while ${what} ran`, name);
      }
      // The held chunks were stopped on the node: its two threads serve the next map, long before ten minutes.
      assert.deepEqual(
        await within(
          pool.map((x: number) => x + 1, [1, 2], { chunksize: 1 }),
          60_000,
          "the next map",
        ),
        [2, 3],
      );
    });

    it("an abort rejects with an AbortError whose cause is the reason, said in its message", async () => {
      const slow = () => new Promise((resolve) => setTimeout(resolve, 60_000));
      const aborted = (signal: AbortSignal, fn: (x: number) => unknown = slow) =>
        rejection(pool.map(fn, [1, 2], { chunksize: 1, signal }));
      const given = new AbortController();
      given.abort("my reason");
      const plain = new AbortController();
      const withError = new AbortController();
      const cases: [Promise<Error>, string, (cause: unknown) => boolean][] = [
        [aborted(given.signal, (x: number) => x), "the map was aborted: my reason", (cause) => cause === "my reason"],
        [
          aborted(AbortSignal.timeout(300)),
          "the map was aborted: TimeoutError: The operation was aborted due to timeout",
          (cause) => cause instanceof DOMException && cause.name === "TimeoutError",
        ],
        [aborted(plain.signal), "the map was aborted", (cause) => cause === plain.signal.reason],
        [aborted(withError.signal), "the map was aborted: enough", (cause) => cause === withError.signal.reason],
      ];
      // The first is aborted before it starts, the second by its timer, the last two once their maps began.
      plain.abort();
      withError.abort(new Error("enough"));
      for (const [outcome, message, isCause] of cases) {
        const error = await outcome;
        assert.equal(error.name, "AbortError", message);
        assert.ok(error instanceof DOMException, message);
        assert.equal(error.message, message);
        assert.ok(isCause(error.cause), `${message}: cause ${String(error.cause)}`);
      }
      // A map waiting on its input is stopped too: the input's next item never comes.
      const waiting = new AbortController();
      const overStalled = rejection(
        pool.map(
          (x: number) => x,
          stalled(1, () => waiting.abort("no more input")),
          { signal: waiting.signal },
        ),
      );
      assert.equal(
        (await within(overStalled, 10_000, "a map over a stalled input")).message,
        "the map was aborted: no more input",
      );
      const stream = pool.imap(slow, [1], { signal: AbortSignal.timeout(300) });
      const { error } = await until(stream);
      assert.equal(error.message, "the map was aborted: TimeoutError: The operation was aborted due to timeout");
      assert.deepEqual(await pool.map((x: number) => x * 2, [4]), [8]);
    });
  });
}
