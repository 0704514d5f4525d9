/** The jobsconfig as Driveshaft defines it: what is read, and an error naming file, pool and key for each wrong key. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseJobsConfig, loadJobsConfig, JobsConfigError, Serve } from "../lib/serve/index.js";
import { CLI_PATH } from "./support/job-servers.js";

const FILE = "/etc/driveshaft/jobs.json";
const TASKS = fileURLToPath(new URL("./fixtures/serve-tasks.js", import.meta.url));
const THROWS = fileURLToPath(new URL("./fixtures/serve-throws.js", import.meta.url));
const pool = (extra: Record<string, unknown> = {}) => ({
  job_processing_uri: "http://localhost/job.php",
  worker_count: 2,
  jobs_list: ["Sum"],
  ...extra,
});
const config = (pools: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  JSON.stringify({ gearman_servers_list: ["localhost", "gm2:4731"], pools_list: pools, ...top });

describe("jobsconfig", () => {
  it("reads Driveshaft's example: servers with port 4730 by default, named pools, multipart by default", () => {
    const parsed = parseJobsConfig(
      config({
        Regular: pool({ jobs_list: ["Sum3", "Sum", "Sum2"] }),
        Newsfeed: pool({ worker_count: 0, jobs_list: ["Newsfeed"] }),
      }),
      FILE,
    );
    assert.deepEqual(parsed.servers, [
      { host: "localhost", port: 4730 },
      { host: "gm2", port: 4731 },
    ]);
    assert.deepEqual([...parsed.pools.keys()], ["Regular", "Newsfeed"]);
    const regular = parsed.pools.get("Regular")!;
    assert.deepEqual(regular.functions, ["Sum3", "Sum", "Sum2"]);
    assert.deepEqual(regular.executor, { kind: "http", uri: "http://localhost/job.php", format: "multipart" });
    assert.equal(parsed.pools.get("Newsfeed")!.workerCount, 0);
    assert.ok(Object.isFrozen(parsed) && Object.isFrozen(regular));
  });

  it("resolves a module path relative to the jobsconfig, with its export after #", () => {
    const parsed = parseJobsConfig(
      config({ M: { job_processing_module: "tasks/run.js#resize", worker_count: 1, jobs_list: ["resize"] } }),
      FILE,
    );
    assert.deepEqual(parsed.pools.get("M")!.executor, {
      kind: "module",
      specifier: "file:///etc/driveshaft/tasks/run.js",
      exportName: "resize",
    });
  });

  it("reads the example under examples/serve, whose module pool's handler counts words", async () => {
    const file = fileURLToPath(new URL("../../examples/serve/jobsconfig.json", import.meta.url));
    const example = loadJobsConfig(file);
    assert.deepEqual([...example.pools.keys()], ["Regular", "Api", "Local"]);
    const local = example.pools.get("Local")!.executor;
    assert.equal(local.kind, "module");
    assert.equal(
      local.kind === "module" && local.specifier,
      pathToFileURL(path.join(path.dirname(file), "tasks.mjs")).href,
    );
    const tasks = (await import(local.kind === "module" ? local.specifier : "")) as {
      wordCount: (job: unknown) => string;
    };
    const statuses: number[][] = [];
    assert.equal(
      tasks.wordCount({ workload: Buffer.from("a b a"), sendStatus: (n: number, d: number) => statuses.push([n, d]) }),
      JSON.stringify({ a: 2, b: 1 }),
    );
    assert.deepEqual(statuses, [[1, 2]]);
  });

  const cases: [string, string, RegExp][] = [
    ["an unknown top-level key", config({ A: pool() }, { http_uri: "x" }), /key "http_uri": unknown key/],
    [
      "a missing gearman_servers_list",
      JSON.stringify({ pools_list: { A: pool() } }),
      /key "gearman_servers_list": missing/,
    ],
    [
      "a server that is not a string",
      config({ A: pool() }, { gearman_servers_list: [4730] }),
      /key "gearman_servers_list": item 0: expected "host:port", got number/,
    ],
    [
      "a bad server port",
      config({ A: pool() }, { gearman_servers_list: ["h:99999"] }),
      /key "gearman_servers_list": item 0: .*bad port/,
    ],
    [
      "pools_list not an object",
      config({}, { pools_list: [] }),
      /key "pools_list": expected an object of named pools, got an array/,
    ],
    ["an unknown pool key", config({ A: pool({ worker: 1 }) }), /pool "A" key "worker": unknown key/],
    [
      "a negative worker_count",
      config({ A: pool({ worker_count: -1 }) }),
      /pool "A" key "worker_count": expected a whole number from 0 to 10000, got -1/,
    ],
    [
      "a worker_count that is a string",
      config({ A: pool({ worker_count: "8" }) }),
      /pool "A" key "worker_count": .*got "8"/,
    ],
    [
      "a missing worker_count",
      config({ A: { job_processing_uri: "http://h/", jobs_list: ["f"] } }),
      /pool "A" key "worker_count": missing/,
    ],
    [
      "jobs_list not an array",
      config({ A: pool({ jobs_list: "Sum" }) }),
      /pool "A" key "jobs_list": expected an array/,
    ],
    ["a function name with a space", config({ A: pool({ jobs_list: ["a b"] }) }), /pool "A" key "jobs_list": item 0/],
    [
      "a function listed in two pools",
      config({ A: pool(), B: pool() }),
      /pool "B" key "jobs_list": function "Sum" is already in pool "A"/,
    ],
    [
      "a URI that is not a URI",
      config({ A: pool({ job_processing_uri: "not a uri" }) }),
      /pool "A" key "job_processing_uri": "not a uri" is not a URI/,
    ],
    [
      "a URI that is not http",
      config({ A: pool({ job_processing_uri: "ftp://h/x" }) }),
      /pool "A" key "job_processing_uri": .*expected http:\/\/ or https:\/\//,
    ],
    [
      "neither URI nor module",
      config({ A: { worker_count: 1, jobs_list: ["f"] } }),
      /pool "A" key "job_processing_uri": missing/,
    ],
    [
      "both URI and module",
      config({ A: pool({ job_processing_module: "./t.js#f" }) }),
      /pool "A" key "job_processing_module": .*not both/,
    ],
    [
      "a bad request_format",
      config({ A: pool({ request_format: "xml" }) }),
      /pool "A" key "request_format": expected "multipart" or "json"/,
    ],
    [
      "a bad max_running_time",
      config({ A: pool({ max_running_time: 0 }) }),
      /pool "A" key "max_running_time": expected a number of seconds > 0/,
    ],
    [
      "a module with an empty export",
      config({ M: { job_processing_module: "./t.js#", worker_count: 1, jobs_list: ["f"] } }),
      /pool "M" key "job_processing_module": .*MODULE#EXPORT/,
    ],
    ["a file that is not JSON", "{ pools_list: ", /is not JSON/],
  ];
  for (const [what, text, message] of cases) {
    it(`names file, pool and key for ${what}`, () => {
      assert.throws(
        () => parseJobsConfig(text, FILE),
        (error: unknown) =>
          error instanceof JobsConfigError &&
          error.code === "JOBS_CONFIG" &&
          error.message.startsWith(`jobsconfig ${FILE}`) &&
          message.test(error.message),
      );
    });
  }

  it("loads each module pool's module before serving: a missing file, an export that is not a function, a module that throws on import are errors naming the pool", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-config-"));
    try {
      const file = path.join(dir, "jobs.json");
      const module = (spec: string, extra: Record<string, unknown> = {}) =>
        config({
          Web: pool(),
          Local: { job_processing_module: spec, worker_count: 2, jobs_list: ["Count"], ...extra },
        });
      const cases: [string, string, RegExp][] = [
        ["a missing file", module("./missing.js#count"), /missing\.js: no such file/],
        [
          "an export that is not a function",
          module(`${TASKS}#limit`),
          /exports no function called limit \(got number\)/,
        ],
        ["a missing export", module(`${TASKS}#nowhere`), /exports no function called nowhere \(got undefined\)/],
        [
          "a module that throws on import",
          module(`${THROWS}#never`),
          /cannot be imported: Error: this module refuses to load at .*serve-throws\.js/,
        ],
        ["a pool of 0 slots too", module("./missing.js#count", { worker_count: 0 }), /no such file/],
      ];
      for (const [what, text, problem] of cases) {
        writeFileSync(file, text);
        await assert.rejects(Serve.open({ jobsConfig: file, watch: false }), (error: unknown) => {
          assert.ok(error instanceof JobsConfigError, what);
          assert.equal(error.code, "JOBS_CONFIG");
          assert.ok(error.message.startsWith(`jobsconfig ${file}: pool "Local" key "job_processing_module": `), what);
          assert.match(error.message, problem, what);
          return true;
        });
      }
      writeFileSync(file, module(`${TASKS}#upper`));
      assert.deepEqual(
        (await Serve.open({ jobsConfig: file, watch: false })).summaries(),
        [],
        "a good module opens (and nothing runs before start)",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("makes the serve command exit 2 with the message, for a wrong key and for a module that does not load", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-serve-config-"));
    try {
      const file = path.join(dir, "jobs.json");
      const cases: [string, RegExp][] = [
        [
          config({ Regular: pool({ worker_count: -3 }) }),
          new RegExp(`jobsconfig ${file}: pool "Regular" key "worker_count": expected a whole number`),
        ],
        [
          // On loopback, so the function policy lets the module through to the check that loads it.
          config(
            { Local: { job_processing_module: `${THROWS}#never`, worker_count: 1, jobs_list: ["f"] } },
            { gearman_servers_list: ["127.0.0.1:1"] },
          ),
          new RegExp(`jobsconfig ${file}: pool "Local" key "job_processing_module": .*this module refuses to load`),
        ],
      ];
      for (const [text, message] of cases) {
        writeFileSync(file, text);
        const child = spawn(process.execPath, [CLI_PATH, "serve", "--jobsconfig", file, "--max_running_time", "5"], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk) => (stderr += chunk));
        const code = await new Promise((resolve) => child.once("exit", resolve));
        assert.equal(code, 2, stderr);
        assert.match(stderr, message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
