/**
 * Every public constructor and options-taking function, fed an unknown key
 * and a wrong type: each refuses with an ArgumentError in the one style of
 * lib/options-schema.ts (code, argument, exact message), whose owner and
 * option name what was wrong. Config files and jobsconfigs keep their own
 * errors, with the same unknown-key wording.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ArgumentError,
  Broker,
  ConfigError,
  Dashboard,
  JobServer,
  LocalCluster,
  MakePool,
  NodeSupervisor,
  WorkerNode,
  loadConfig,
  serveJobServerMetrics,
  type ClusterPool,
} from "../lib/index.js";
import { AdminClient, GearmanClient, GearmanWorker } from "../lib/gearman/index.js";
import { Serve, StatusPort, parseJobsConfig, JobsConfigError } from "../lib/serve/index.js";
import { ClusterControl } from "../lib/control/cluster-control.js";

/** An options object, the `argument` its refusal names, and the exact message. */
type Case = readonly [input: object, argument: string, message: string];

interface Row {
  /** The call, as a user writes it. */
  readonly call: string;
  /** Makes the call with `options` (it may throw or reject). */
  readonly run: (options: never) => unknown;
  readonly unknownKey: Case;
  readonly wrongType: Case;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-options-"));
// Nothing listens at these: the calls refuse their options before they would connect.
const jobServer = `unix:${path.join(dir, "jobs.sock")}`;
const jobsConfig = path.join(dir, "jobsconfig.json");
fs.writeFileSync(jobsConfig, JSON.stringify({ gearman_servers_list: ["127.0.0.1:1"], pools_list: {} }));

const servers = "127.0.0.1:1";
const node = { jobServers: [jobServer], commandUrl: `ipc://${dir}/c`, logUrl: `ipc://${dir}/l`, threads: 1 };
const urls = {
  commandFrontendUrl: `ipc://${dir}/cf`,
  commandBackendUrl: `ipc://${dir}/cb`,
  logFrontendUrl: `ipc://${dir}/lf`,
  logBackendUrl: `ipc://${dir}/lb`,
};
const known = {
  client:
    "servers, clientId, maxPacketSize, reconnect, connectTimeoutMs, tls, open, exceptions, noServerTimeoutMs, maxFailovers",
  worker:
    "servers, clientId, maxPacketSize, reconnect, connectTimeoutMs, tls, open, concurrency, heartbeatMs, wakeWithJob",
  jobServer:
    "host, port, path, jobRetries, queueFile, queueFsync, maxPacketSize, maxConnections, maxQueue, writeHighWater, writeLimit, handlePrefix, log, tls",
  map: "chunksize, signal, timeout, retries, onProgress, maxInFlight, label, waitForNodesMs, output, errors, retryOn, backoff, indexed",
  node: "jobServers, commandUrl, logUrl, threads, prefetch, nodeId, graceMs, memoryWaitMs, resourceLimits, secret, signatureMaxAgeMs, allowSource, allowedModules, curve, tls, labels, exclusive, maxChunks, exitWhenDone, drained, maxPacketSize, payloadDirectory",
  urls: "commandFrontendUrl, commandBackendUrl, logFrontendUrl, logBackendUrl",
};

let client: GearmanClient;
let worker: GearmanWorker;
let server: JobServer;
let pool: ClusterPool;
let control: ClusterControl;
let serve: Serve;

const mapRow = (call: string, run: (options: never) => unknown): Row => ({
  call,
  run,
  unknownKey: [
    { chunkSize: 2 },
    "map option chunkSize",
    `map option chunkSize: unknown option (did you mean "chunksize"?); known: ${known.map}`,
  ],
  wrongType: [
    { chunksize: "2" },
    "map option chunksize",
    'map option chunksize: expected a whole number ≥ 1 or "auto", got "2"',
  ],
});

const drain = async (items: AsyncIterable<unknown>) => {
  for await (const item of items) void item;
};

const ROWS: readonly Row[] = [
  {
    call: "new GearmanClient(options)",
    run: (options) => new GearmanClient(options),
    unknownKey: [
      { servers, maxFailover: 1 },
      "GearmanClient option maxFailover",
      `GearmanClient option maxFailover: unknown option (did you mean "maxFailovers"?); known: ${known.client}`,
    ],
    wrongType: [
      { servers, exceptions: "yes" },
      "GearmanClient option exceptions",
      'GearmanClient option exceptions: expected true or false, got "yes"',
    ],
  },
  {
    call: "client.submitJob(func, data, options)",
    run: (options) => client.submitJob("f", "x", options),
    unknownKey: [
      { timout: 5 },
      "submitJob option timout",
      "submitJob option timout: unknown option; known: unique, priority, timeoutMs, signal, retries, failovers",
    ],
    wrongType: [
      { priority: "urgent" },
      "submitJob option priority",
      'submitJob option priority: expected "high", "normal" or "low", got "urgent"',
    ],
  },
  {
    call: "client.submitBackground(func, data, options)",
    run: (options) => client.submitBackground("f", "x", options),
    unknownKey: [
      { timeoutMs: 5 },
      "submitBackground option timeoutMs",
      "submitBackground option timeoutMs: unknown option; known: unique, priority, signal, epoch",
    ],
    wrongType: [
      { epoch: "soon" },
      "submitBackground option epoch",
      'submitBackground option epoch: expected a whole number ≥ 0 or a Date from 1970 on, got "soon"',
    ],
  },
  {
    call: "new GearmanWorker(options)",
    run: (options) => new GearmanWorker(options),
    unknownKey: [
      { servers, concurency: 2 },
      "GearmanWorker option concurency",
      `GearmanWorker option concurency: unknown option (did you mean "concurrency"?); known: ${known.worker}`,
    ],
    wrongType: [
      { servers, concurrency: "2" },
      "GearmanWorker option concurrency",
      'GearmanWorker option concurrency: expected a whole number ≥ 1, got "2"',
    ],
  },
  {
    call: "worker.register(func, handler, options)",
    run: (options) => worker.register("sum", () => "", options),
    unknownKey: [
      { timeout: 5 },
      'GearmanWorker.register("sum") option timeout',
      'GearmanWorker.register("sum") option timeout: unknown option (did you mean "timeoutMs"?); known: timeoutMs',
    ],
    wrongType: [
      { timeoutMs: "5" },
      'GearmanWorker.register("sum") option timeoutMs',
      'GearmanWorker.register("sum") option timeoutMs: expected a whole number ≥ 1, got "5"',
    ],
  },
  {
    call: "worker.stop(options)",
    run: (options) => worker.stop(options),
    unknownKey: [
      { deadline: 5 },
      "GearmanWorker.stop option deadline",
      'GearmanWorker.stop option deadline: unknown option (did you mean "deadlineMs"?); known: deadlineMs',
    ],
    wrongType: [
      { deadlineMs: "soon" },
      "GearmanWorker.stop option deadlineMs",
      'GearmanWorker.stop option deadlineMs: expected a number ≥ 0, got "soon"',
    ],
  },
  {
    call: "new AdminClient(server, options)",
    run: (options) => new AdminClient(servers, options),
    unknownKey: [
      { timeout: 5 },
      "AdminClient option timeout",
      'AdminClient option timeout: unknown option (did you mean "timeoutMs"?); known: timeoutMs, tls, open',
    ],
    wrongType: [
      { tls: "yes" },
      "AdminClient option tls",
      'AdminClient option tls: expected an object ({ ca, cert, key, servername }), got "yes"',
    ],
  },
  {
    call: "new JobServer(options)",
    run: (options) => new JobServer(options),
    unknownKey: [
      { prot: 1 },
      "JobServer option prot",
      `JobServer option prot: unknown option (did you mean "port"?); known: ${known.jobServer}`,
    ],
    wrongType: [
      { port: "4730" },
      "JobServer option port",
      'JobServer option port: expected a whole number from 0 to 65535, got "4730"',
    ],
  },
  {
    call: "server.close(options)",
    run: (options) => server.close(options),
    unknownKey: [
      { gracefull: true },
      "JobServer.close option gracefull",
      'JobServer.close option gracefull: unknown option (did you mean "graceful"?); known: graceful, graceMs',
    ],
    wrongType: [
      { graceful: "yes" },
      "JobServer.close option graceful",
      'JobServer.close option graceful: expected true or false, got "yes"',
    ],
  },
  {
    call: "serveJobServerMetrics(server, options)",
    run: (options) => serveJobServerMetrics(server, options),
    unknownKey: [
      { port: 0, hots: "127.0.0.1" },
      "metrics option hots",
      'metrics option hots: unknown option (did you mean "host"?); known: port, host',
    ],
    wrongType: [
      { port: "9464" },
      "metrics option port",
      'metrics option port: expected a whole number from 0 to 65535, got "9464"',
    ],
  },
  {
    call: "new Broker(urls)",
    run: (options) => new Broker(options),
    unknownKey: [
      { ...urls, commandUrl: "tcp://127.0.0.1:9000" },
      "Broker url commandUrl",
      `Broker url commandUrl: unknown url; known: ${known.urls}`,
    ],
    wrongType: [
      { ...urls, logBackendUrl: 9003 },
      "Broker url logBackendUrl",
      "Broker url logBackendUrl: expected a ZeroMQ endpoint such as tcp://127.0.0.1:9000, got 9003",
    ],
  },
  {
    call: "new Broker(urls, options)",
    run: (options) => new Broker(urls, options),
    unknownKey: [
      { curev: {} },
      "Broker option curev",
      'Broker option curev: unknown option (did you mean "curve"?); known: curve',
    ],
    wrongType: [
      { curve: "keys" },
      "Broker option curve",
      'Broker option curve: expected { publicKey, secretKey, onRefused }, got "keys"',
    ],
  },
  {
    call: "new WorkerNode(options)",
    run: (options) => new WorkerNode(options),
    unknownKey: [
      { ...node, thread: 2 },
      "worker node option thread",
      `worker node option thread: unknown option (did you mean "threads"?); known: ${known.node}`,
    ],
    wrongType: [
      { ...node, threads: "2" },
      "worker node option threads",
      'worker node option threads: expected a whole number ≥ 1, got "2"',
    ],
  },
  {
    call: "new WorkerNode(options, links)",
    run: (links) => new WorkerNode(node, links),
    unknownKey: [
      { opne: () => undefined },
      "WorkerNode link opne",
      'WorkerNode link opne: unknown link (did you mean "open"?); known: open',
    ],
    wrongType: [
      { open: "in-process" },
      "WorkerNode link open",
      'WorkerNode link open: expected a function returning a stream (or undefined), got "in-process"',
    ],
  },
  {
    call: "new NodeSupervisor(node, options)",
    run: (options) => new NodeSupervisor(node, options),
    unknownKey: [
      { backoff: 1 },
      "NodeSupervisor option backoff",
      "NodeSupervisor option backoff: unknown option; known: log, initialBackoffMs, maxBackoffMs, execArgv, output, metrics",
    ],
    wrongType: [
      { output: "pipe" },
      "NodeSupervisor option output",
      'NodeSupervisor option output: expected "inherit" or "ignore", got "pipe"',
    ],
  },
  {
    call: "LocalCluster.start(options)",
    run: (options) => LocalCluster.start(options),
    unknownKey: [
      { worker: 2 },
      "LocalCluster option worker",
      'LocalCluster option worker: unknown option (did you mean "workers"?); known: workers, threads, log, secret, execArgv, maxPacketSize',
    ],
    wrongType: [
      { secret: "yes" },
      "LocalCluster option secret",
      'LocalCluster option secret: expected true or false, got "yes"',
    ],
  },
  {
    call: "MakePool(config, options)",
    run: (options) => MakePool(undefined, options),
    unknownKey: [
      { locl: {} },
      "MakePool option locl",
      'MakePool option locl: unknown option (did you mean "local"?); known: local, open, dashboard, maxPacketSize, output, log',
    ],
    wrongType: [
      { dashboard: "yes" },
      "MakePool option dashboard",
      'MakePool option dashboard: expected true, a port from 0 to 65535 or { port, host, allowControl }, got "yes"',
    ],
  },
  mapRow("pool.map(fn, items, options)", (options) => pool.map((x: number) => x, [1], options)),
  mapRow("pool.imap(fn, items, options)", (options) => drain(pool.imap((x: number) => x, [1], options))),
  mapRow("pool.imapUnordered(fn, items, options)", (options) =>
    drain(pool.imapUnordered((x: number) => x, [1], options)),
  ),
  {
    call: "Dashboard.start(control, options)",
    run: (options) => Dashboard.start(control, options),
    unknownKey: [
      { jobServers: [], prot: 1 },
      "dashboard option prot",
      'dashboard option prot: unknown option (did you mean "port"?); known: port, host, allowControl, jobServers, tls, signed, intervalMs',
    ],
    wrongType: [
      { jobServers: [], allowControl: "yes" },
      "dashboard option allowControl",
      'dashboard option allowControl: expected true or false, got "yes"',
    ],
  },
  {
    call: "Serve.open(options)",
    run: (options) => Serve.open(options),
    unknownKey: [
      { jobsConfig, wach: false },
      "Serve option wach",
      'Serve option wach: unknown option (did you mean "watch"?); known: jobsConfig, maxRunningTime, connectTimeoutMs, policy, log, watch',
    ],
    wrongType: [
      { jobsConfig, watch: "no" },
      "Serve option watch",
      'Serve option watch: expected true or false, got "no"',
    ],
  },
  {
    call: "new StatusPort(serve, options)",
    run: (options) => new StatusPort(serve, options),
    unknownKey: [
      { host: "127.0.0.1", port: 0, version: "1", verison: "1" },
      "StatusPort option verison",
      'StatusPort option verison: unknown option (did you mean "version"?); known: host, port, version',
    ],
    wrongType: [
      { host: "127.0.0.1", version: "1", port: "4730" },
      "StatusPort option port",
      'StatusPort option port: expected a whole number from 0 to 65535, got "4730"',
    ],
  },
];

/** The error `run` throws or rejects with. */
async function refusal(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  assert.fail("the call accepted its options");
}

describe("options: every public constructor and options-taking function", () => {
  before(async () => {
    client = new GearmanClient({ servers, reconnect: false });
    worker = new GearmanWorker({ servers, reconnect: false });
    server = new JobServer({ port: 0 });
    pool = await MakePool({
      client: {
        job_server_url: jobServer,
        command_frontend_url: `ipc://${dir}/cmd`,
        log_backend_url: `ipc://${dir}/log`,
      },
    });
    control = await ClusterControl.open({
      jobServers: [jobServer],
      commandUrl: `ipc://${dir}/control-cmd`,
      commandBind: true,
      logUrl: `ipc://${dir}/control-log`,
      logBind: true,
    });
    serve = await Serve.open({ jobsConfig, watch: false });
  });
  after(async () => {
    await Promise.allSettled([client?.close(), worker?.close(), server?.close(), pool?.close(), control?.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const row of ROWS) {
    for (const [kind, [input, argument, message]] of [
      ["an unknown key", row.unknownKey],
      ["a wrong type", row.wrongType],
    ] as const) {
      it(`${row.call} refuses ${kind}, naming it`, async () => {
        const error = await refusal(() => row.run(input as never));
        assert.ok(error instanceof ArgumentError, `an ArgumentError, got ${String(error)}`);
        assert.equal(error.code, "BAD_ARGUMENT");
        assert.equal(error.argument, argument);
        assert.equal(error.message, message);
        // Owner and option name the bad key apart, so a command line can map the option to its own flag.
        const { owner = "", option = "" } = error;
        assert.equal(option, Object.keys(input).at(-1));
        assert.ok(argument.startsWith(`${owner} `) && argument.endsWith(` ${option}`), `${owner} and ${option}`);
        assert.match(argument.slice(owner.length, -option.length), /^ (option|url|link) $/);
      });
    }
  }
});

describe("options: the filled form", () => {
  it("is filled with the defaults and frozen", () => {
    const { options } = new JobServer({ port: 0, queueFsync: true });
    assert.ok(Object.isFrozen(options));
    assert.deepEqual(
      [options.host, options.port, options.queueFsync, options.maxQueue, options.tls],
      ["127.0.0.1", 0, true, 0, undefined],
    );
  });
});

describe("options: configuration files keep their own errors, in the same wording", () => {
  it("a config object's unknown key is a ConfigError naming section and key", () => {
    assert.throws(
      () => loadConfig({ client: { chunk_size: 8 } }, {}),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.section === "client" &&
        error.key === "chunk_size" &&
        error.message === 'config object [client] chunk_size: unknown key (did you mean "chunksize"?)',
    );
  });

  it("[client] output takes true or false; another value is a ConfigError naming the file and key", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "glimpse-options-output-"));
    try {
      const file = path.join(dir, "output.ini");
      fs.writeFileSync(file, "[client]\njob_server_url = 127.0.0.1:4730\noutput = maybe\n");
      assert.throws(
        () => loadConfig(file, {}),
        (error: unknown) =>
          error instanceof ConfigError &&
          error.file === file &&
          error.key === "output" &&
          error.message === `${file} [client] output: expected true or false, got "maybe"`,
      );
      fs.writeFileSync(file, "[client]\njob_server_url = 127.0.0.1:4730\noutput = off\n");
      assert.equal(loadConfig(file, {})?.client.output, false);
      fs.writeFileSync(file, "[client]\njob_server_url = 127.0.0.1:4730\n");
      assert.equal(loadConfig(file, {})?.client.output, true, "forwarding is the default");
      assert.equal(loadConfig({ client: { output: false } }, {})?.client.output, false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a jobsconfig's unknown key is a JobsConfigError naming file, pool and key", () => {
    const text = JSON.stringify({
      gearman_servers_list: ["127.0.0.1"],
      pools_list: {
        A: { job_processing_uri: "http://127.0.0.1:1/", worker_count: 1, jobs_list: ["f"], worker_cont: 2 },
      },
    });
    assert.throws(
      () => parseJobsConfig(text, "/etc/jobs.json"),
      (error: unknown) =>
        error instanceof JobsConfigError &&
        error.message.endsWith(
          'pool "A" key "worker_cont": unknown key (did you mean "worker_count"?); known: job_processing_uri, job_processing_module, worker_count, jobs_list, request_format, max_running_time',
        ),
    );
  });
});
