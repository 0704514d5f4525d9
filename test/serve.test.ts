/**
 * glimpse-cluster serve against gearmand and the embedded job server: jobs
 * through the HTTP executor (multipart read as PHP reads it, and JSON) and
 * the module executor, every bad reply, max_running_time with the slot
 * reused, and the libgearman `gearman` client as a client.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { GearmanClient, JobError } from "../lib/gearman/index.js";
import { jobServerKinds, freePort, type RunningJobServer } from "./support/job-servers.js";
import { missingPeer, programPath } from "./support/peers.js";
import { TestEndpoint, ok, type Answer } from "./support/serve-endpoint.js";
import { startServe, type ServeHarness } from "./support/serve-harness.js";
import { eventually } from "./support/gearman.js";

const TASKS = fileURLToPath(new URL("./fixtures/serve-tasks.js", import.meta.url));

const failure = async (promise: Promise<unknown>): Promise<JobError> => {
  const error = await promise.then(
    () => assert.fail("the job completed"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof JobError, `expected a JobError, got ${String(error)}`);
  return error;
};

for (const kind of jobServerKinds({ inProcess: false })) {
  describe(`serve on ${kind.name}`, { skip: kind.skip }, () => {
    let server: RunningJobServer;
    let endpoint: TestEndpoint;
    let harness: ServeHarness;
    let client: GearmanClient;
    let plainClient: GearmanClient;
    let answer: (job: Parameters<ConstructorParameters<typeof TestEndpoint>[0]>[0]) => Answer;

    before(async () => {
      server = await kind.start({ jobRetries: 1 });
      answer = (job) => ok(`${job.fields.function_name}:${job.fields.workload.toString("utf8")}`);
      endpoint = await new TestEndpoint((job) => answer(job)).listen();
      const refused = await freePort();
      harness = await startServe({
        gearman_servers_list: [server.url],
        pools_list: {
          Form: { job_processing_uri: endpoint.url, worker_count: 2, jobs_list: ["form_echo", "form_bad"] },
          Json: { job_processing_uri: endpoint.url, request_format: "json", worker_count: 1, jobs_list: ["json_echo"] },
          Slow: { job_processing_uri: endpoint.url, worker_count: 1, max_running_time: 0.5, jobs_list: ["slow"] },
          Refused: {
            job_processing_uri: `http://127.0.0.1:${refused}/job.php`,
            worker_count: 1,
            jobs_list: ["refused"],
          },
          Tasks: { job_processing_module: `${TASKS}#upper`, worker_count: 1, jobs_list: ["upper"] },
          Bytes: { job_processing_module: `${TASKS}#bytes`, worker_count: 1, jobs_list: ["reverse"] },
          Fails: { job_processing_module: `${TASKS}#fails`, worker_count: 1, jobs_list: ["module_fails"] },
          Progress: { job_processing_module: `${TASKS}#progress`, worker_count: 1, jobs_list: ["module_progress"] },
          OwnProgress: { job_processing_module: `${TASKS}#ownProgress`, worker_count: 3, jobs_list: ["own_progress"] },
          Spin: { job_processing_module: `${TASKS}#spin`, worker_count: 1, max_running_time: 0.5, jobs_list: ["spin"] },
        },
      });
      client = new GearmanClient({ servers: server.url });
      plainClient = new GearmanClient({ servers: server.url, exceptions: false });
    });

    after(async () => {
      await client?.close();
      await plainClient?.close();
      await harness?.close();
      await endpoint?.close();
      await server?.stop();
    });

    it("completes a job through the multipart endpoint, which reads the four fields as PHP's $_POST", async () => {
      const job = client.submitJob("form_echo", "[1,2]", { unique: "u-1" });
      assert.equal((await job.result).toString(), "form_echo:[1,2]");
      const seen = endpoint.jobs.at(-1)!;
      assert.match(seen.contentType, /^multipart\/form-data; boundary=/);
      assert.deepEqual(Object.keys(seen.fields).sort(), ["function_name", "job_handle", "unique", "workload"]);
      assert.equal(seen.fields.unique.toString(), "u-1");
      assert.equal(seen.fields.job_handle.toString(), job.handle);
    });

    it("sends a workload that is not UTF-8 byte for byte in the multipart form, and as workload_base64 in the JSON body", async () => {
      const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x0d, 0x0a, 0x2d, 0x2d]);
      answer = (job) =>
        ok(job.fields.workload ? job.fields.workload.toString("hex") : String(job.json?.workload_base64));
      try {
        assert.equal((await client.submitJob("form_echo", bytes).result).toString(), bytes.toString("hex"));
        assert.equal((await client.submitJob("json_echo", bytes).result).toString(), bytes.toString("base64"));
        assert.equal(endpoint.jobs.at(-1)!.json?.workload, undefined);
      } finally {
        answer = (job) => ok(`${job.fields.function_name}:${job.fields.workload.toString("utf8")}`);
      }
    });

    it("sends the README's JSON body with request_format json", async () => {
      const job = client.submitJob("json_echo", "héllo", { unique: "j-1" });
      assert.equal((await job.result).toString(), "json_echo:héllo");
      const seen = endpoint.jobs.at(-1)!;
      assert.equal(seen.contentType, "application/json");
      assert.deepEqual(seen.json, {
        function_name: "json_echo",
        job_handle: job.handle,
        unique: "j-1",
        workload: "héllo",
      });
    });

    it("raises WORK_EXCEPTION with response_string for a non-zero gearman_ret, WORK_FAIL to a client without exceptions", async () => {
      answer = () => ({ body: JSON.stringify({ gearman_ret: 1, response_string: "no such shop" }) });
      try {
        const error = await failure(client.submitJob("form_bad", "x").result);
        assert.equal(error.code, "JOB_EXCEPTION");
        assert.equal(error.exception?.toString(), "no such shop");
        assert.equal((await failure(plainClient.submitJob("form_bad", "x").result)).code, "JOB_FAILED");
      } finally {
        answer = (job) => ok(`${job.fields.function_name}:${job.fields.workload.toString("utf8")}`);
      }
    });

    const badReplies: [string, Answer, RegExp][] = [
      ["an HTTP status ≥ 400", { status: 500, body: "oops" }, /HTTP status 500/],
      ["a body that is not JSON", { body: "<html>fatal error</html>" }, /not JSON/],
      [
        "a response_string that is not a string",
        { body: JSON.stringify({ gearman_ret: 0, response_string: 3 }) },
        /response_string is a number/,
      ],
      ["a missing gearman_ret", { body: JSON.stringify({ response_string: "x" }) }, /gearman_ret is missing/],
      [
        "a negative gearman_ret",
        { body: JSON.stringify({ gearman_ret: -1, response_string: "x" }) },
        /gearman_ret is -1/,
      ],
      ["JSON that is not an object", { body: "[0]" }, /not an object/],
      ["a reset connection", "reset", /connection reset|socket hang up|ECONNRESET/],
    ];
    for (const [what, reply, reason] of badReplies) {
      it(`fails the job on ${what}, with one log line naming pool, function, handle and reason, and keeps serving`, async () => {
        answer = () => reply;
        let handle: string | undefined;
        try {
          const job = client.submitJob("form_bad", "payload");
          const error = await failure(job.result);
          assert.equal(error.code, "JOB_FAILED");
          handle = job.handle;
        } finally {
          answer = (job) => ok(`${job.fields.function_name}:${job.fields.workload.toString("utf8")}`);
        }
        const lines = harness.log.filter((line) => line.includes(`handle=${handle}`));
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0], /^warn pool=Form function=form_bad handle=\S+ failed: /);
        assert.match(lines[0], reason);
        assert.equal((await client.submitJob("form_echo", "after").result).toString(), "form_echo:after");
      });
    }

    it("fails the job when the endpoint refuses the connection", async () => {
      const job = client.submitJob("refused", "x");
      assert.equal((await failure(job.result)).code, "JOB_FAILED");
      assert.ok(
        harness.log.some((line) =>
          line.includes(`pool=Refused function=refused handle=${job.handle} failed: connection refused`),
        ),
        harness.log.join("\n"),
      );
    });

    it("fails a job past max_running_time, aborts its request, and runs the next job on the freed slot", async () => {
      const before = endpoint.held.length;
      answer = (job) =>
        job.fields.function_name.toString() === "slow" && job.fields.workload.toString() === "hang"
          ? "hold"
          : ok("fast");
      try {
        const slow = client.submitJob("slow", "hang");
        const [held] = (await endpoint.waitHeld(before + 1)).slice(before);
        assert.equal((await failure(slow.result)).code, "JOB_FAILED");
        await held.job.aborted;
        assert.ok(
          harness.log.some((line) => line.includes(`handle=${slow.handle} failed: ran past max_running_time (0.5 s)`)),
          harness.log.join("\n"),
        );
        assert.equal((await client.submitJob("slow", "next").result).toString(), "fast");
      } finally {
        answer = (job) => ok(`${job.fields.function_name}:${job.fields.workload.toString("utf8")}`);
      }
    });

    it("runs module handlers on threads: a string, bytes, a throw, status and data", async () => {
      assert.equal((await client.submitJob("upper", "abc", { unique: "m-1" }).result).toString(), "upper:ABC:m-1");
      assert.deepEqual([...(await client.submitJob("reverse", Buffer.from([1, 2, 0xff])).result)], [0xff, 2, 1]);
      const error = await failure(client.submitJob("module_fails", "that").result);
      assert.equal(error.exception?.toString(), "cannot do that");
      const job = client.submitJob("module_progress", "x");
      const events: string[] = [];
      job.on("status", (n: number, d: number) => events.push(`status ${n}/${d}`));
      job.on("data", (data: Buffer) => events.push(`data ${data.toString()}`));
      assert.equal((await job.result).toString(), "finished");
      assert.deepEqual(events, ["status 1/2", "data partial"]);
    });

    it("sends each module job's status and data to its own client while the pool's threads run several at once", async () => {
      const workloads = Array.from({ length: 12 }, (_, i) => "x".repeat(1 + (i % 4)) + String.fromCharCode(97 + i));
      const runs = workloads.map((workload) => {
        const job = client.submitJob("own_progress", workload);
        const events: string[] = [];
        job.on("status", (n: number, d: number) => events.push(`${n}/${d}`));
        job.on("data", (data: Buffer) => events.push(data.toString()));
        return job.result.then((result) => ({ workload, result: result.toString(), events }));
      });
      for (const { workload, result, events } of await Promise.all(runs)) {
        const n = workload.length;
        assert.equal(result, `done:${workload}`);
        assert.deepEqual(events, [...Array.from({ length: n }, (_, i) => `${i + 1}/${n}`), `p:${workload}`]);
      }
    });

    it("replaces a module's thread past max_running_time and runs the next job", async () => {
      assert.equal((await failure(client.submitJob("spin", "forever").result)).code, "JOB_FAILED");
      const quick = client.submitJob("spin", "quick");
      await quick.result.catch((error: Error) =>
        assert.fail(`${error.message}\n${harness.log.filter((l) => l.includes("pool=Spin")).join("\n")}`),
      );
    });

    it("reconnects to a job server restarted under it, registers again and serves; a pool's slots log the loss and the connection once", async () => {
      await eventually(
        () => harness.log.some((line) => line.startsWith("info pool=Form connected to")),
        10_000,
        "Form connected",
      );
      const logged = harness.log.length;
      server = await server.restart();
      assert.equal(
        (await client.submitJob("form_echo", "again", { timeoutMs: 20_000 }).result).toString(),
        "form_echo:again",
      );
      assert.equal((await client.submitJob("upper", "again").result).toString(), "upper:AGAIN:");
      // Form has 2 slots, each with its own connection: the pool speaks once of each.
      await eventually(
        () => harness.log.slice(logged).some((line) => line.startsWith("info pool=Form connected to")),
        10_000,
        "Form reconnected",
      );
      const form = harness.log.slice(logged).filter((line) => line.includes("pool=Form "));
      assert.equal(form.filter((line) => line.startsWith("info pool=Form connected to")).length, 1, form.join("\n"));
      assert.equal(
        form.filter((line) => /^warn pool=Form lost .*connection closed by the server; reconnecting$/.test(line))
          .length,
        1,
        form.join("\n"),
      );
    });

    it("serves the libgearman gearman client", { skip: missingPeer("gearman-tools") }, async () => {
      const run = await promisify(execFile)(
        programPath("gearman")!,
        ["-h", "127.0.0.1", "-p", String(server.port), "-f", "form_echo", "from-c"],
        { encoding: "utf8", timeout: 20_000 },
      );
      assert.equal(run.stdout.trim(), "form_echo:from-c");
    });
  });
}
