/**
 * Worker output, end to end against each job server kind (a broker, one
 * worker node of two threads started through the CLI): what a shipped
 * function writes with console reaches the client that ran the map (its
 * stdout and stderr, prefixed with host, pid and item, or a submitted call
 * as its error names it, or its `output` function), `glimpse-cluster logs` and the dashboard's log tail; `output:
 * false` leaves it on the node; a runaway logger is cut to the node's rate,
 * and what was dropped is counted and said.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { MakePool, RemoteError, type ClusterPool } from "../lib/index.js";
import type { WorkerOutput } from "../lib/index.js";
import type { LogEnvelope } from "../lib/channels/messages.js";
import type { DashboardSnapshot } from "../lib/dashboard/dashboard-state.js";
import { OUTPUT_BURST, OUTPUT_LINES_PER_SECOND } from "../lib/wire/protocol.js";
import { CLI_PATH, freePort, jobServerKinds } from "./support/job-servers.js";
import { TestCluster } from "./support/cluster.js";
import { eventually } from "./support/gearman.js";
import { inspect } from "node:util";
import { mapOutput } from "../lib/pool/worker-output.js";
import { callsOf } from "../lib/wire/call-text.js";

const INDEX = new URL("../lib/index.js", import.meta.url).href;
const DEADLINE_MS = 20_000;

/** Writes to stdout and stderr, the second call two lines long. */
function chatty(x: number): number {
  console.log("hello", x, { twice: x * 2 });
  console.error(`warning about ${x}\nsecond line`);
  return x * 10;
}

/** Two arguments, named in a submitted call's text. */
function labelled(tag: string, x: number): string {
  console.log(`${tag} ${x}`);
  return `${tag} ${x}`;
}

/** Says something, then throws: its line and its RemoteError name the same call. */
function failing(x: number): number {
  console.log("about to fail", x);
  throw new RangeError(`${x} is out of range`);
}

/** Writes far more lines than a node forwards. */
function flood(x: number): number {
  for (let i = 0; i < 20_000; i++) console.log(i);
  return x;
}

/** Lines of a child's output as they come; `until` resolves once one matches. */
function follow(child: ReturnType<typeof spawn>, stream: "stdout" | "stderr") {
  const lines: string[] = [];
  let buffer = "";
  const waiters: (() => void)[] = [];
  child[stream]!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split("\n");
    buffer = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    lines,
    async until(test: (line: string) => boolean, what: string): Promise<string> {
      const deadline = Date.now() + DEADLINE_MS;
      for (;;) {
        const found = lines.find(test);
        if (found !== undefined) return found;
        if (Date.now() > deadline)
          throw new Error(`no ${stream} line ${what} within ${DEADLINE_MS} ms:\n${lines.join("\n")}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
  };
}

/** Runs a script to its end in a process of its own: its stdout and stderr lines; fails unless it exits 0. */
async function runScript(script: string) {
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
  const stdout = follow(child, "stdout");
  const stderr = follow(child, "stderr");
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  assert.equal(code, 0, `${stdout.lines.join("\n")}\n${stderr.lines.join("\n")}`);
  return { stdout, stderr };
}

describe("a map's notices of lines that did not reach it", () => {
  const chunk = { index: 2, start: 10, items: [1, 2, 3] };
  const where = { host: "gear1", pid: 42, elapsedMs: 1 };

  it("says the lines a run's node dropped and those sent but not heard, each once, naming the run's items", () => {
    const got: WorkerOutput[] = [];
    const output = mapOutput((line) => got.push(line))!;
    output.responded(chunk, { ...where, output: { lines: 5, dropped: 7 } }, 3);
    output.responded(chunk, { ...where, output: { lines: 2, dropped: 0 } }, 2);
    output.responded(chunk, where, 0);
    assert.deepEqual(
      got.map(({ text, dropped, index }) => ({ text, dropped, index })),
      [
        {
          text:
            `7 lines of output of items 10..12 dropped: a worker node forwards at most ${OUTPUT_LINES_PER_SECOND} ` +
            `lines a second, bursts of ${OUTPUT_BURST}`,
          dropped: 7,
          index: 10,
        },
        {
          text:
            "2 lines of output of items 10..12 did not arrive with its result: refused here (said above), or sent by a " +
            "node of a release that sends output on the log channel only (glimpse-cluster logs shows them)",
          dropped: 2,
          index: 10,
        },
      ],
    );
  });

  it("names submitted calls by their text, and a call whose argument's inspect throws still gets a name", () => {
    const got: WorkerOutput[] = [];
    const angry = {
      [inspect.custom]: () => {
        throw new Error("no");
      },
    };
    const callAt = callsOf("fn", [1, angry, 3], false);
    const output = mapOutput((line) => got.push(line), callAt)!;
    output.responded({ index: 0, start: 0, items: [1, angry, 3] }, { ...where, output: { lines: 1, dropped: 0 } }, 0);
    assert.equal(got[0].text.split(" did not arrive")[0], "1 line of output of calls fn(1) to fn(3)");
    assert.equal(callAt(1), "fn(…)");
  });
});

for (const kind of jobServerKinds()) {
  describe(`worker output on ${kind.name}`, { skip: kind.skip }, () => {
    let cluster: TestCluster;
    let pool: ClusterPool;

    before(async () => {
      cluster = await TestCluster.start({ kind });
      await cluster.startNode(2);
      pool = await MakePool(cluster.configFile, { open: cluster.server.clientOptions().open, dashboard: true });
    });

    after(async () => {
      await pool?.close();
      await cluster?.close();
    });

    /** Another pool of the cluster, whose output goes to `lines` unless a map or call says otherwise. */
    const poolInto = (lines: WorkerOutput[], config: string | string[] = cluster.configFile) =>
      MakePool(config, { open: cluster.server.clientOptions().open, output: (line) => lines.push(line) });

    it("reaches the map's output function with host, pid and item, every line before the map resolves", async () => {
      const got: WorkerOutput[] = [];
      const out = await pool.map(chatty, [1, 2, 3], { chunksize: 2, output: (line) => got.push(line) });
      assert.deepEqual(out, [10, 20, 30]);
      const [node] = await pool.ping(5000);
      const sorted = [...got].sort((a, b) => a.index! - b.index! || a.stream.localeCompare(b.stream));
      assert.deepEqual(
        sorted,
        [1, 2, 3].flatMap((x, index) => [
          { stream: "stderr", text: `warning about ${x}\nsecond line`, index, host: node.host, pid: node.pid },
          { stream: "stdout", text: `hello ${x} { twice: ${x * 2} }`, index, host: node.host, pid: node.pid },
        ]),
      );
      // Each item's lines in the order it wrote them.
      for (const index of [0, 1, 2])
        assert.deepEqual(
          got.filter((line) => line.index === index).map((line) => line.stream),
          ["stdout", "stderr"],
        );
    });

    it("travels on each chunk's job: a pool whose log channel reaches nothing gets every line before the map resolves", async () => {
      // Its log channel points at a port nobody listens on: the lines cannot come that way.
      const cut = cluster.writeConfig(
        "cut-log.ini",
        `[client]\nlog_backend_url = tcp://127.0.0.1:${await freePort()}\n`,
      );
      const got: WorkerOutput[] = [];
      const other = await poolInto(got, [cluster.configFile, cut]);
      try {
        assert.deepEqual(await other.map(chatty, [1, 2, 3, 4], { chunksize: 1 }), [10, 20, 30, 40]);
        assert.deepEqual(
          got.map((line) => `${line.index} ${line.stream}`).sort(),
          [0, 1, 2, 3].flatMap((index) => [`${index} stderr`, `${index} stdout`]),
        );
        assert.equal(await other.submit(chatty, 5), 50);
        assert.deepEqual(
          got.filter((line) => line.call === "chatty(5)").map((line) => line.stream),
          ["stdout", "stderr"],
        );
      } finally {
        await other.close();
      }
    });

    it("a pool without a dashboard hears no log records: its lines come once, on their jobs; asked, it hears them", async () => {
      const got: WorkerOutput[] = [];
      const other = await poolInto(got);
      const records: string[] = [];
      const stop = other.channels.log.watch((envelope) => {
        if (envelope.message.type === "record") records.push(envelope.message.message);
      });
      try {
        const marker = `once-${process.pid}-${Date.now()}`;
        const fn = new Function("x", `console.log("${marker}", x); return x;`) as (x: number) => number;
        assert.deepEqual(await other.map(fn, [1]), [1]);
        // A pong a node sends after the map follows its line down the same channel: had the line come, it came first.
        assert.equal((await other.ping(5000)).length, cluster.nodes.length);
        assert.deepEqual(
          got.filter((line) => line.text.includes(marker)).map((line) => line.text),
          [`${marker} 1`],
        );
        assert.equal(records.length, 0, records.join("\n"));
        other.channels.log.hearRecords();
        await eventually(
          async () => {
            assert.deepEqual(await other.map(fn, [2]), [2]);
            return records.some((record) => record.includes(`${marker} 2`));
          },
          DEADLINE_MS,
          "the line as a log record, once asked for",
        );
      } finally {
        stop();
        await other.close();
      }
    });

    it("MakePool's output option is every map's default, and a map's own option wins", async () => {
      const pooled: WorkerOutput[] = [];
      const own: WorkerOutput[] = [];
      const other = await poolInto(pooled);
      try {
        await other.map(chatty, [1]);
        await other.map(chatty, [2], { output: (line) => own.push(line) });
      } finally {
        await other.close();
      }
      assert.deepEqual(pooled.map((line) => line.text).sort(), [
        "hello 1 { twice: 2 }",
        "warning about 1\nsecond line",
      ]);
      assert.deepEqual(own.map((line) => line.text).sort(), ["hello 2 { twice: 4 }", "warning about 2\nsecond line"]);
    });

    it("a submitted call's lines name the call as its RemoteError does: index undefined, call fn(args)", async () => {
      const got: WorkerOutput[] = [];
      // submit takes the pool's output option.
      const other = await poolInto(got);
      let failure: unknown;
      try {
        assert.deepEqual(
          await Promise.all([other.submit(chatty, 1), other.apply(chatty, [2]), other.submit(labelled, "tag", 3)]),
          [10, 20, "tag 3"],
        );
        failure = await other.submit(failing, 4).then(
          () => assert.fail("failing(4) resolved"),
          (error: unknown) => error,
        );
        // A map of the same pool still names its items.
        assert.deepEqual(await other.map(labelled, ["m"], [0]), ["m 0"]);
      } finally {
        await other.close();
      }
      const [node] = await pool.ping(5000);
      const where = { host: node.host, pid: node.pid };
      const order = (line: WorkerOutput) => `${line.call ?? line.index} ${line.stream}`;
      assert.deepEqual(
        [...got].sort((a, b) => order(a).localeCompare(order(b))),
        [
          { stream: "stdout", text: "m 0", ...where, index: 0 },
          { stream: "stderr", text: "warning about 1\nsecond line", ...where, index: undefined, call: "chatty(1)" },
          { stream: "stdout", text: "hello 1 { twice: 2 }", ...where, index: undefined, call: "chatty(1)" },
          { stream: "stderr", text: "warning about 2\nsecond line", ...where, index: undefined, call: "chatty(2)" },
          { stream: "stdout", text: "hello 2 { twice: 4 }", ...where, index: undefined, call: "chatty(2)" },
          { stream: "stdout", text: "about to fail 4", ...where, index: undefined, call: "failing(4)" },
          { stream: "stdout", text: "tag 3", ...where, index: undefined, call: "labelled('tag', 3)" },
        ],
      );
      assert.ok(failure instanceof RemoteError);
      assert.equal(failure.index, undefined);
      assert.equal(failure.message, `failing(4) threw RangeError: 4 is out of range on ${node.host}:${node.pid}`);
    });

    it("apply takes an output option of its own, as a map does; calls with another output travel apart", async () => {
      const pooled: WorkerOutput[] = [];
      const own: WorkerOutput[] = [];
      const other = await poolInto(pooled);
      try {
        assert.deepEqual(
          await Promise.all([
            other.apply(chatty, [1], { output: (line) => own.push(line) }),
            other.apply(chatty, [2], { output: false }),
            other.submit(chatty, 3),
          ]),
          [10, 20, 30],
        );
        assert.deepEqual(own.map((line) => `${line.call} ${line.stream}`).sort(), [
          "chatty(1) stderr",
          "chatty(1) stdout",
        ]);
        assert.deepEqual(pooled.map((line) => `${line.call} ${line.stream}`).sort(), [
          "chatty(3) stderr",
          "chatty(3) stdout",
        ]);
        await eventually(
          () => cluster.nodes[0].output.some((line) => line.includes("hello 2 { twice: 4 }")),
          DEADLINE_MS,
          "the line of apply(chatty, [2], { output: false }) on the node's own stdout",
        );
        await assert.rejects(other.apply(chatty, [4], { output: "yes" as never }), {
          name: "ArgumentError",
          message: 'apply option output: expected true or false or a function, got "yes"',
        });
      } finally {
        await other.close();
      }
    });

    it("a submitted call settles after its own lines arrived, as a map resolves after its items', so closing loses none", async () => {
      const got: WorkerOutput[] = [];
      const other = await poolInto(got);
      try {
        for (const x of [1, 2, 3, 4, 5]) {
          assert.equal(await other.submit(chatty, x), x * 10);
          const mine = got.filter((line) => line.call === `chatty(${x})`).map((line) => line.text);
          assert.deepEqual(mine.sort(), [`hello ${x} { twice: ${x * 2} }`, `warning about ${x}\nsecond line`]);
        }
        const failure = await other.submit(failing, 6).then(
          () => assert.fail("failing(6) resolved"),
          (error: unknown) => error,
        );
        assert.ok(failure instanceof RemoteError, String(failure));
        assert.deepEqual(
          got.filter((line) => line.call === "failing(6)").map((line) => line.text),
          ["about to fail 6"],
        );
      } finally {
        await other.close();
      }
    });
    it("by default goes to the caller's stdout and stderr, each line after (host:pid item N) or (host:pid fn(args))", async () => {
      const script = cluster.writeConfig(
        "inherit.mjs",
        [
          `import { MakePool } from ${JSON.stringify(INDEX)};`,
          `const pool = await MakePool(${JSON.stringify(cluster.configFile)});`,
          `try {`,
          `  const chatty = ${chatty.toString()};`,
          `  const out = await pool.map(chatty, [4, 5], { chunksize: 1 });`,
          `  console.log("results", JSON.stringify(out));`,
          `  const calls = await Promise.all([pool.submit(chatty, 6), pool.apply(chatty, [7])]);`,
          `  console.log("calls", JSON.stringify(calls));`,
          `} finally { await pool.close(); }`,
        ].join("\n"),
      );
      const { stdout, stderr } = await runScript(script);
      const [node] = await pool.ping(5000);
      const at = (writer: number | string) =>
        `(${node.host}:${node.pid} ${typeof writer === "number" ? `item ${writer}` : writer}) `;
      assert.deepEqual(
        [...stdout.lines].sort(),
        [
          `${at(0)}hello 4 { twice: 8 }`,
          `${at(1)}hello 5 { twice: 10 }`,
          `${at("chatty(6)")}hello 6 { twice: 12 }`,
          `${at("chatty(7)")}hello 7 { twice: 14 }`,
          "calls [60,70]",
          "results [40,50]",
        ].sort(),
      );
      for (const [writer, x] of [
        [0, 4],
        [1, 5],
        ["chatty(6)", 6],
        ["chatty(7)", 7],
      ] as const) {
        const mine = stderr.lines.filter((line) => line.startsWith(at(writer)));
        assert.deepEqual(mine, [`${at(writer)}warning about ${x}`, `${at(writer)}second line`]);
      }
      assert.equal(stderr.lines.length, 8, stderr.lines.join("\n"));
    });

    it("[client] output = false in the config: a map prints nothing from the workers; without it, it forwards", async () => {
      const quiet = cluster.writeConfig("quiet-output.ini", "[client]\noutput = false\n");
      const script = cluster.writeConfig(
        "quiet-output.mjs",
        [
          `import { MakePool } from ${JSON.stringify(INDEX)};`,
          `const chatty = ${chatty.toString()};`,
          `const quiet = await MakePool(${JSON.stringify([cluster.configFile, quiet])});`,
          `try {`,
          `  console.log("quiet results", JSON.stringify(await quiet.map(chatty, [7, 8], { chunksize: 1 })));`,
          `} finally { await quiet.close(); }`,
          `const loud = await MakePool(${JSON.stringify(cluster.configFile)});`,
          `try {`,
          `  console.log("loud results", JSON.stringify(await loud.map(chatty, [6])));`,
          `} finally { await loud.close(); }`,
        ].join("\n"),
      );
      const { stdout, stderr } = await runScript(script);
      const [node] = await pool.ping(5000);
      const at = `(${node.host}:${node.pid} item 0) `;
      assert.deepEqual(stdout.lines, ["quiet results [70,80]", `${at}hello 6 { twice: 12 }`, "loud results [60]"]);
      assert.deepEqual(stderr.lines, [`${at}warning about 6`, `${at}second line`]);
      // The quiet map's lines stayed on the worker node's own output.
      await eventually(
        () => ["hello 7", "hello 8"].every((text) => cluster.nodes[0].output.some((line) => line.includes(text))),
        DEADLINE_MS,
        "the quiet map's lines on the node's stdout",
      );
    });

    it("reaches glimpse-cluster logs and the dashboard's log tail, saying whose it is", async () => {
      const logs = spawn(process.execPath, [CLI_PATH, "-c", cluster.configFile, "logs"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      try {
        const followed = follow(logs, "stdout");
        const marker = `marker-${process.pid}-${Date.now()}`;
        // The logs command subscribes in its own time: map until it has heard a line of ours.
        const heard = eventually(
          () => followed.lines.find((line) => line.includes(marker)),
          DEADLINE_MS,
          "the logs command to show worker output",
        );
        let seen: string | undefined;
        void heard.then((line) => (seen = line));
        while (seen === undefined) {
          await pool.map(new Function("x", `console.log("${marker}", x); return x;`) as (x: number) => number, [7], {
            output: () => {},
          });
          await Promise.race([heard, new Promise((resolve) => setTimeout(resolve, 250))]);
        }
        const [node] = await pool.ping(5000);
        assert.match(
          seen,
          new RegExp(`^\\S+ ${node.host}:${node.pid} INFO stdout of item 0 \\(map [0-9a-f]+-\\d+\\): ${marker} 7$`),
        );
        const snapshot = await eventually(async () => {
          const response = await fetch(new URL("api/snapshot", pool.dashboardUrl));
          const s = (await response.json()) as DashboardSnapshot;
          return s.logs.some((line) => line.message.includes(marker)) && s;
        }, DEADLINE_MS);
        const line = snapshot.logs.find((l) => l.message.includes(marker))!;
        assert.equal(line.level, "info");
        assert.match(line.message, new RegExp(`^stdout of item 0 \\(map [0-9a-f]+-\\d+\\): ${marker} 7$`));
        // A submitted call is named as its RemoteError names it, not by its place in a batch.
        const callMarker = `call-${marker}`;
        const shout = new Function("word", "n", `console.log("${callMarker}", word, n); return n;`) as (
          word: string,
          n: number,
        ) => number;
        assert.deepEqual(await Promise.all([pool.submit(shout, "a", 1), pool.submit(shout, "b", 2)]), [1, 2]);
        for (const [word, n] of [
          ["a", 1],
          ["b", 2],
        ] as const) {
          const called = await followed.until((text) => text.includes(`${callMarker} ${word} ${n}`), `of ${word}`);
          assert.match(
            called,
            new RegExp(
              `^\\S+ ${node.host}:${node.pid} INFO stdout of anonymous\\('${word}', ${n}\\) \\(map [0-9a-f]+-\\d+\\): ${callMarker} ${word} ${n}$`,
            ),
          );
        }
      } finally {
        logs.kill("SIGTERM");
        await new Promise((resolve) => logs.once("close", resolve));
      }
    });

    it("output: false leaves it on the worker node's own output; anything but a boolean or function is refused", async () => {
      await assert.rejects(
        pool.map((x: number) => x, [1], { output: "yes" as never }),
        {
          name: "ArgumentError",
          message: 'map option output: expected true or false or a function, got "yes"',
        },
      );
      const records: LogEnvelope[] = [];
      const stop = pool.channels.log.watch((envelope) => {
        if (envelope.message.type === "record" && envelope.message.output) records.push(envelope);
      });
      try {
        const quiet = `quiet-${Date.now()}`;
        const fn = new Function("x", `console.log("${quiet}", x); return x;`) as (x: number) => number;
        assert.deepEqual(await pool.map(fn, [1], { output: false }), [1]);
        // A map that forwards, after it: once its line arrived, the quiet one would have too.
        const got: WorkerOutput[] = [];
        await pool.map(chatty, [9], { output: (line) => got.push(line) });
        assert.equal(got.length, 2);
        assert.deepEqual(
          records.filter((r) => r.message.type === "record" && r.message.message.includes(quiet)),
          [],
        );
        await eventually(
          () => cluster.nodes[0].output.some((line) => line.includes(`${quiet} 1`)),
          DEADLINE_MS,
          "the line on the node's stdout",
        );
      } finally {
        stop();
      }
    });

    it("a runaway logger is cut to the node's rate; what was dropped is counted, told the caller and logged", async () => {
      const warnings: string[] = [];
      const stop = pool.channels.log.watch((envelope) => {
        const message = envelope.message;
        if (message.type === "record" && message.level === "warning" && message.message.startsWith("worker output: "))
          warnings.push(message.message);
      });
      try {
        const got: WorkerOutput[] = [];
        const started = performance.now();
        assert.deepEqual(await pool.map(flood, [0], { output: (line) => got.push(line) }), [0]);
        const seconds = (performance.now() - started) / 1000;
        const lines = got.filter((line) => line.dropped === undefined);
        const notices = got.filter((line) => line.dropped !== undefined);
        assert.equal(notices.length, 1, JSON.stringify(notices));
        const [notice] = notices;
        assert.equal(lines.length + notice.dropped!, 20_000, "every line forwarded or counted as dropped");
        assert.ok(
          // The burst (less what the tests before may have spent), and the rate for as long as the map ran.
          lines.length >= OUTPUT_BURST - 50 &&
            lines.length <= OUTPUT_BURST + Math.ceil(OUTPUT_LINES_PER_SECOND * (seconds + 1)),
          `${lines.length} lines forwarded in ${seconds.toFixed(1)} s`,
        );
        assert.equal(
          notice.text,
          `${notice.dropped} lines of output of item 0 dropped: a worker node forwards at most 200 lines a second, bursts of 500`,
        );
        assert.equal(notice.stream, "stderr");
        assert.equal(got.at(-1), notice, "the notice comes after the chunk's lines");
        assert.deepEqual(
          lines.slice(0, 3).map((line) => line.text),
          ["0", "1", "2"],
        );
        await eventually(() => warnings.length > 0, DEADLINE_MS, "the node's report of dropped lines");
        assert.match(
          warnings[0],
          /^worker output: \d+ lines dropped in the last \d+\.\d s \(a node forwards at most 200 lines a second, bursts of 500\)$/,
        );
      } finally {
        stop();
      }
    });

    // After the flood above: the node's burst is spent, so this one drops lines too.
    it("a runaway submitted call's drop notice names the calls of its chunk", async () => {
      const got: WorkerOutput[] = [];
      const other = await poolInto(got);
      try {
        const together = { chunksize: 2 }; // both calls in one chunk
        assert.deepEqual(
          await Promise.all([other.apply(flood, [0], together), other.apply(flood, [1], together)]),
          [0, 1],
        );
      } finally {
        await other.close();
      }
      const notices = got.filter((line) => line.dropped !== undefined);
      assert.equal(notices.length, 1, JSON.stringify(notices));
      const [notice] = notices;
      assert.equal(
        notice.text,
        `${notice.dropped} lines of output of calls flood(0) to flood(1) dropped: a worker node forwards at most 200 lines a second, bursts of 500`,
      );
      assert.equal(notice.stream, "stderr");
      assert.equal(notice.index, undefined);
      assert.equal(notice.call, "flood(0)");
      const lines = got.filter((line) => line.dropped === undefined);
      assert.equal(lines.length + notice.dropped!, 40_000, "every line forwarded or counted as dropped");
      for (const line of lines) assert.ok(line.call === "flood(0)" || line.call === "flood(1)", JSON.stringify(line));
    });
  });
}
