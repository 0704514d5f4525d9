/**
 * The retry engine (lib/gearman/retry-run.ts) under submitJob's rules
 * (submit-rules.ts), without servers: the two budgets (retries, failovers)
 * spent apart, the events a ClientJob shows, a timed-out attempt withdrawn
 * unless the retry after it joined its job, and a hook that throws. The same
 * options end to end on every job server kind: gearman-library.test.ts.
 */
import { describe, it, mock, afterEach } from "node:test";
import assert from "node:assert/strict";
import { connectionError, serverLost, GearmanError, JobError } from "../lib/gearman/errors.js";
import { SubmitRules, type SubmitLimits } from "../lib/gearman/submit-rules.js";
import { ScriptedClient } from "./support/scripted-attempts.js";

const FUNCTION = "resize";

function submit(client: ScriptedClient, limits: Partial<SubmitLimits>, unique?: string, signal?: AbortSignal) {
  const rules = new SubmitRules(
    client,
    FUNCTION,
    Buffer.from("image"),
    { unique },
    { retries: 0, failovers: 3, timeoutMs: undefined, ...limits },
    signal,
  );
  const events: string[] = [];
  const job = rules.job;
  job.on("retry", (attempt: number, error: GearmanError) => events.push(`retry ${attempt} after ${error.code}`));
  job.on("failover", (from: string, to: string) => events.push(`failover ${from} → ${to}`));
  job.on("created", (handle: string) => events.push(`created ${handle}`));
  job.on("exception", (data: Buffer) => events.push(`exception ${data.toString()}`));
  const outcome: Promise<{ data?: Buffer; error?: unknown }> = job.result.then(
    (data) => ({ data }),
    (error: unknown) => ({ error }),
  );
  rules.run.start();
  return { job, events, outcome };
}

const lost = (server: string) =>
  serverLost(`job H:x:1 (${FUNCTION})`, connectionError(server, "connection closed by the server"));

describe("submitJob's rules on the retry engine, without servers", () => {
  afterEach(() => mock.timers.reset());

  it("failures spend retries, lost servers spend failovers, each with its event; attempts counts both", async () => {
    const client = new ScriptedClient(["js1:4730", "js2:4730"]);
    const { job, events, outcome } = submit(client, { retries: 1, failovers: 1 });
    client.last.exception("Error: flaky");
    client.last.fail(lost("js2:4730"));
    client.last.complete(Buffer.from("done"));
    assert.equal((await outcome).data?.toString(), "done");
    assert.deepEqual(events, [
      "created H:js1:1",
      "exception Error: flaky",
      "retry 2 after JOB_EXCEPTION",
      "created H:js2:2",
      "created H:js1:3",
      "failover js2:4730 → js1:4730",
    ]);
    assert.equal(job.attempts, 3);
    assert.equal(job.handle, "H:js1:3");
  });

  it("past its failovers a job fails with CONNECTION counting the losses; past its retries with the attempt's own error", async () => {
    const client = new ScriptedClient();
    const losing = submit(client, { failovers: 1 });
    client.last.fail(lost("js1:4730"));
    client.last.fail(lost("js1:4730"));
    const { error } = await losing.outcome;
    assert.ok(error instanceof GearmanError && error.code === "CONNECTION", String(error));
    assert.match(
      error.message,
      /^job H:js1:2 \(resize\) lost its job server 2 times; last: js1:4730: connection closed/,
    );

    const failing = submit(client, { retries: 1 });
    client.last.fail(new JobError(FUNCTION, client.last.handle, undefined, client.last.ordinal));
    client.last.fail(new JobError(FUNCTION, client.last.handle, undefined, client.last.ordinal));
    const failed = (await failing.outcome).error;
    assert.ok(failed instanceof JobError && failed.code === "JOB_FAILED", String(failed));
    assert.match(failed.message, /^job H:js1:2 \(resize\) failed after 2 attempts$/);
  });

  it("a timed-out attempt is withdrawn, unless the retry after it joined its job (same unique, same server)", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    const client = new ScriptedClient();
    const alone = submit(client, { retries: 1, timeoutMs: 50 });
    const first = client.last;
    mock.timers.tick(50);
    assert.ok(first.given && first.withdrawn, "no unique: the retry is another job, the first one goes");
    mock.timers.tick(50);
    assert.ok(client.last.given && client.last.withdrawn);
    const { error } = await alone.outcome;
    assert.ok(error instanceof GearmanError && error.code === "TIMEOUT", String(error));
    assert.equal(error.message, "job H:js1:2 (resize) timed out after 50 ms");
    assert.deepEqual(
      alone.events.filter((e) => e.startsWith("retry")),
      ["retry 2 after TIMEOUT"],
    );

    const joined = submit(client, { retries: 1, timeoutMs: 50 }, "img-42");
    const queued = client.last;
    mock.timers.tick(50);
    assert.ok(queued.given && !queued.withdrawn, "the retry joined the job: withdrawing it would withdraw the retry");
    mock.timers.tick(50);
    assert.ok(client.last.withdrawn, "the last attempt's timeout withdraws the job");
    assert.equal(codeOf((await joined.outcome).error), "TIMEOUT");
  });

  it("cancel and the signal end the job with ABORTED and withdraw its attempt; later reports are ignored", async () => {
    const client = new ScriptedClient();
    const { job, outcome } = submit(client, { retries: 3 });
    job.cancel(new Error("not needed"));
    const { error } = await outcome;
    assert.ok(error instanceof GearmanError && error.code === "ABORTED", String(error));
    assert.equal(error.message, "job H:js1:1 (resize) was aborted");
    assert.ok(client.last.given && client.last.withdrawn);
    client.last.fail(new JobError(FUNCTION, client.last.handle));
    assert.equal(client.attempts.length, 1, "a given-up attempt's failure makes no retry");

    const controller = new AbortController();
    const bySignal = submit(client, { retries: 3 }, undefined, controller.signal);
    controller.abort();
    assert.equal(codeOf((await bySignal.outcome).error), "ABORTED");
  });

  it("a listener that throws ends its own job with what it threw: its attempt is given up and withdrawn", async () => {
    const client = new ScriptedClient();
    const { job, outcome } = submit(client, {});
    const thrown = new Error("a listener's bug");
    job.on("status", () => {
      throw thrown;
    });
    client.last.status(1, 2);
    assert.equal((await outcome).error, thrown);
    assert.ok(client.last.given && client.last.withdrawn);
  });
});

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}
