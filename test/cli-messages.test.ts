/**
 * The command's messages and conventions, each pinned to its exact text: a
 * port in use, an unreachable job server or broker, Ctrl-C, keygen's flags,
 * `status --watch` into a pipe, and the configuration errors a first week of
 * use meets (a key given twice, no job_server_url, a key in the wrong
 * section, a URL scheme, a secret that is no secret).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { JobServer } from "../lib/server/index.js";
import { loadConfig } from "../lib/config/index.js";
import { CLI_PATH, embedded, freePort } from "./support/job-servers.js";
import { cliOnPath, runCli } from "./support/cli-run.js";
import { SECRET_EXPECTED } from "../lib/config/secret-policy.js";
import { ProgressBar } from "../cli/progress-bar.js";
import { startLineProcess } from "./support/gearman.js";
import { startedLine } from "../lib/node/worker-node.js";
import { TestCluster } from "./support/cluster.js";
import { WORKERS_PER_CORE, refuseTooManyWorkers } from "../cli/commands/demo.js";

/** The environment without a config or secret of the caller's. */
const ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith("GLIMPSE_CLUSTER_")),
);

const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-cli-messages-"));
after(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, lines: readonly string[]): string {
  const at = path.join(dir, name);
  writeFileSync(at, `${lines.join("\n")}\n`);
  return at;
}
const cli = (args: readonly string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { env: { ...ENV, ...env } });
/** The four channel URLs of a section, on ports where nothing listens (a broker that is not running). */
async function brokerUrls(): Promise<string[]> {
  const names = ["command_frontend_url", "command_backend_url", "log_frontend_url", "log_backend_url"];
  const urls: string[] = [];
  for (const name of names) urls.push(`${name} = tcp://127.0.0.1:${await freePort()}`);
  return urls;
}

describe("a port in use: the address, the cause, no stack, exit 1", () => {
  let taken: net.Server;
  let port: number;
  before(async () => {
    taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    port = (taken.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it("job-server, launch-broker, dashboard and launch-worker --metrics-port say it alike", async () => {
    const config = file("in-use.ini", [
      "[client]",
      "job_server_url = 127.0.0.1:4730",
      "[server]",
      `command_frontend_url = tcp://127.0.0.1:${port}`,
    ]);
    const cases: [string[], string][] = [
      [["job-server", "--port", String(port)], `job-server: cannot listen on 127.0.0.1:${port}`],
      [["-c", config, "launch-broker"], `launch-broker: cannot listen on tcp://127.0.0.1:${port}`],
      [["-c", config, "dashboard", "--port", String(port)], `dashboard: cannot listen on 127.0.0.1:${port}`],
      [
        ["-c", config, "launch-worker", "1", "--metrics-port", String(port)],
        `launch-worker: cannot serve metrics on 127.0.0.1:${port}`,
      ],
    ];
    // At once: each mostly waits (the broker retries its bind for 2 s).
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    cases.forEach(([args, said], i) => {
      assert.equal(results[i].stderr, `glimpse-cluster ${said}: address already in use (EADDRINUSE)\n`, args.join(" "));
      assert.equal(results[i].code, 1, args.join(" "));
    });
  });
});

describe("an option the library refuses is named by the flag that gave it, exit 2", () => {
  it("job-server, dashboard, launch-worker, serve and demo name the flag; a value from the config names its file and key", async () => {
    const urls = await brokerUrls();
    const config = file("flags.ini", ["[client]", "job_server_url = 127.0.0.1:4730", ...urls]);
    const exclusive = file("exclusive.ini", [
      "[client]",
      "job_server_url = 127.0.0.1:4730",
      ...urls,
      "[server]",
      "exclusive = true",
    ]);
    const port = "expected a whole number from 0 to 65535, got 70000";
    const cores = os.availableParallelism();
    const cases: [string[], string][] = [
      [["job-server", "--port", "70000"], `--port: ${port}`],
      [["job-server", "--port", "0", "--host", ""], '--host: expected an address such as 127.0.0.1, got ""'],
      [["job-server", "--port", "0", "--metrics-port", "70000"], `--metrics-port: ${port}`],
      [
        ["job-server", "--port", "0", "--handle-prefix", "a:b"],
        '--handle-prefix: expected 1 to 40 bytes without spaces, NULs or colons, got "a:b"',
      ],
      [["-c", config, "dashboard", "--port", "70000"], `--port: ${port}`],
      [
        ["-c", config, "launch-worker", "1", "--exclusive"],
        "--exclusive: an exclusive node serves only labelled maps: give it at least one label",
      ],
      [
        ["-c", config, "launch-worker", "1", "--label", "a:b"],
        '--label: label "a:b" may hold only letters, digits, "_", "-" and ".", and must start with a letter or digit',
      ],
      [["-c", config, "launch-worker", "1", "--metrics-port", "70000"], `--metrics-port: ${port}`],
      [["serve", "--jobsconfig", ""], '--jobsconfig: expected the path of a jobsconfig file, got ""'],
      // Not from a flag: the configuration's [server] exclusive, named by its file and key.
      [
        ["-c", exclusive, "launch-worker", "1"],
        `${exclusive} [server] exclusive: an exclusive node serves only labelled maps: give it at least one label`,
      ],
      [
        ["demo", "--workers", "100000"],
        `--workers: 100000 worker nodes would be 100000 processes on this machine's ${cores} core${cores === 1 ? "" : "s"}; ` +
          `at most ${4 * cores} (4 per core) start without --oversubscribe, as past the cores they only contend`,
      ],
    ];
    // At once: each fails before it listens or starts a process.
    const results = await Promise.all(cases.map(([args]) => cli(args)));
    cases.forEach(([args, said], i) => {
      assert.equal(results[i].stderr, `glimpse-cluster: ${said}\n`, args.join(" "));
      assert.equal(results[i].stdout, "", args.join(" "));
      assert.equal(results[i].code, 2, args.join(" "));
    });
    // The demo's bound: 4 worker nodes per core, more with --oversubscribe.
    assert.equal(WORKERS_PER_CORE, 4);
    assert.doesNotThrow(() => refuseTooManyWorkers({ workers: 4 * cores }));
    assert.doesNotThrow(() => refuseTooManyWorkers({ workers: 4 * cores + 1, oversubscribe: true }));
    assert.throws(() => refuseTooManyWorkers({ workers: 4 * cores + 1 }), { name: "UsageError" });
  });
});

describe("a command or option the CLI does not know", () => {
  it("is said with a suggestion and a hint where help is, not the whole help; exit 2", async () => {
    const hint = "(glimpse-cluster --help lists the commands; glimpse-cluster COMMAND --help, a command's options)\n";
    const unknown = await cli(["bogus"]);
    assert.deepEqual(
      { stderr: unknown.stderr, code: unknown.code },
      { stderr: `error: unknown command 'bogus'\n(Did you mean logs?)\n${hint}`, code: 2 },
    );
    const option = await cli(["launch-worker", "--bogus"]);
    assert.deepEqual(
      { stderr: option.stderr, code: option.code },
      { stderr: `error: unknown option '--bogus'\n${hint}`, code: 2 },
    );
  });
});

describe("what cannot be reached is named once", () => {
  let server: JobServer;
  let serverUrl: string;
  before(async () => {
    server = new JobServer({ host: "127.0.0.1", port: 0 });
    const { port } = await server.listen();
    serverUrl = `127.0.0.1:${port}`;
  });
  after(() => server.close());

  it("a job server that refuses: its address once, the cause, exit 1", async () => {
    const port = await freePort();
    // Direct mode: this client binds the channels, so only the job server is missing.
    const channel = `tcp://127.0.0.1:${await freePort()}`;
    const log = `tcp://127.0.0.1:${await freePort()}`;
    const config = file("no-server.ini", [
      "[client]",
      `job_server_url = 127.0.0.1:${port}`,
      `command_frontend_url = ${channel}`,
      `command_backend_url = ${channel}`,
      `log_frontend_url = ${log}`,
      `log_backend_url = ${log}`,
    ]);
    const result = await cli(["-c", config, "ping-workers", "1"]);
    assert.equal(
      result.stderr,
      `glimpse-cluster: could not reach job server 127.0.0.1:${port}: connect ECONNREFUSED\n` +
        "glimpse-cluster: could not reach the job server\n",
    );
    assert.equal(result.code, 1);
  });

  it("with the broker down, ping-workers, drain and status name the channel endpoints and exit 1", async () => {
    const urls = await brokerUrls();
    const config = file("broker-down.ini", ["[client]", `job_server_url = ${serverUrl}`, ...urls]);
    const command = urls[0].split(" = ")[1];
    const log = urls[3].split(" = ")[1];
    const lines =
      `glimpse-cluster: could not reach the command channel at ${command}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)\n` +
      `glimpse-cluster: could not reach the log channel at ${log}: the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)\n`;
    const commands = [["ping-workers", "1"], ["drain", "--all"], ["status"]];
    // At once: each waits for its connections, in vain.
    const results = await Promise.all(commands.map((args) => cli(["-c", config, ...args])));
    commands.forEach((args, i) => {
      assert.equal(results[i].stderr, lines, args.join(" "));
      assert.equal(results[i].code, 1, args.join(" "));
    });
  });
});

describe("Ctrl-C", () => {
  it("demo: one line, everything shut down, the local cluster's directory removed, exit 130", async () => {
    const tmp = mkdtempSync(path.join(dir, "tmp-"));
    // Enough samples that the demo is still running when the signal comes.
    const demo = startLineProcess(process.execPath, [CLI_PATH, "demo", "--samples", "200000000"], {
      env: { ...ENV, TMPDIR: tmp },
    });
    let stderr = "";
    demo.child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    await demo.waitFor(/^worker nodes: /, 60_000);
    assert.equal(readdirSync(tmp).filter((name) => name.startsWith("glimpse-local-")).length, 1);
    const exited = new Promise<number | null>((resolve) => demo.child.once("exit", (code) => resolve(code)));
    demo.child.kill("SIGINT");
    assert.equal(await exited, 130);
    assert.equal(stderr, "glimpse-cluster demo: SIGINT: shutting down\n");
    assert.deepEqual(readdirSync(tmp), []);
    // Into a pipe: plain lines, no terminal escapes (progress bar, colours).
    assert.ok(!demo.lines.join("\n").includes("\x1b"), "no escape sequence");
  });

  /** A program on a local MakePool() that maps once, says "ready", and waits (handling SIGINT itself with `handler`). */
  function localPoolProgram(name: string, handler: string): string {
    const program = path.join(dir, name);
    const index = new URL("../lib/index.js", import.meta.url).href;
    writeFileSync(
      program,
      [
        `import { MakePool } from ${JSON.stringify(index)};`,
        "let pool;",
        handler, // before MakePool: its listener comes before the local cluster's
        "pool = await MakePool();",
        'console.log("ready", await pool.map((x) => x + 1, [1]));',
        "setInterval(() => {}, 1000);",
      ].join("\n"),
    );
    return program;
  }

  it("a program on MakePool() that does not handle SIGINT: the local cluster's directory goes with it", async () => {
    const tmp = mkdtempSync(path.join(dir, "tmp-"));
    const child = startLineProcess(process.execPath, [localPoolProgram("unhandled.mjs", "")], {
      env: { ...ENV, TMPDIR: tmp },
    });
    await child.waitFor(/^ready \[ 2 \]$/, 60_000);
    assert.equal(readdirSync(tmp).filter((name) => name.startsWith("glimpse-local-")).length, 1);
    await child.kill("SIGINT");
    // Ended by the signal, as without a handler (a shell reports 130).
    assert.equal(child.child.signalCode, "SIGINT");
    assert.deepEqual(readdirSync(tmp), []);
  });

  it("a program that handles SIGINT with once() closes its pool itself, uninterrupted", async () => {
    const tmp = mkdtempSync(path.join(dir, "tmp-"));
    const handler =
      'process.once("SIGINT", async () => { await pool.close(); console.log("closed"); process.exit(3); });';
    const child = startLineProcess(process.execPath, [localPoolProgram("handled.mjs", handler)], {
      env: { ...ENV, TMPDIR: tmp },
    });
    await child.waitFor(/^ready \[ 2 \]$/, 60_000);
    await child.kill("SIGINT");
    assert.equal(child.child.exitCode, 3, child.lines.join("\n"));
    assert.ok(child.lines.includes("closed"));
    assert.deepEqual(readdirSync(tmp), []);
  });
});

describe("keygen", () => {
  it("--secret-only prints a bare 32-byte secret, --curve-only the key pair's lines; both are a usage error", async () => {
    const [secret, curve, all, both] = await Promise.all([
      cli(["keygen", "--secret-only"]),
      cli(["keygen", "--curve-only"]),
      cli(["keygen"]),
      cli(["keygen", "--secret-only", "--curve-only"]),
    ]);
    assert.equal(secret.code, 0);
    assert.match(secret.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    assert.equal(Buffer.from(secret.stdout.trim(), "base64url").length, 32);

    assert.match(curve.stdout, /^curve_public_key = \S{40}\ncurve_secret_key = \S{40}\n$/);

    assert.match(
      all.stdout,
      /^; glimpse-cluster keys: .*\nsecret = [A-Za-z0-9_-]{43}\ncurve_public_key = \S{40}\ncurve_secret_key = \S{40}\n$/,
    );

    assert.equal(
      both.stderr,
      "glimpse-cluster keygen: --secret-only and --curve-only together select nothing: give one, or neither for both\n",
    );
    assert.equal(both.stdout, "");
    assert.equal(both.code, 2);
  });

  it("the documented recipe makes a secret the configuration takes; the whole output as the secret is refused", async () => {
    const env = path.join(dir, "cluster.env");
    const shell = spawn(
      "bash",
      ["-c", `echo "GLIMPSE_CLUSTER_SECRET=$(glimpse-cluster keygen --secret-only)" > ${JSON.stringify(env)}`],
      { env: { ...ENV, PATH: `${cliOnPath(dir)}:${ENV.PATH}` }, stdio: "inherit" },
    );
    assert.equal(await new Promise((resolve) => shell.once("exit", resolve)), 0);
    const [name, value] = readFileSync(env, "utf8").trim().split(/=(.*)/s);
    assert.equal(name, "GLIMPSE_CLUSTER_SECRET");
    assert.equal(loadConfig({ client: {} }, { GLIMPSE_CLUSTER_SECRET: value })!.client.secret, value);

    // The recipe without --secret-only: the variable's line is keygen's comment.
    const comment = (await cli(["keygen"])).stdout.split("\n")[0];
    assert.throws(() => loadConfig({ client: {} }, { GLIMPSE_CLUSTER_SECRET: comment }), {
      message: `environment: GLIMPSE_CLUSTER_SECRET holds a value of ${Buffer.byteLength(comment)} bytes (a comment line, not a secret); expected ${SECRET_EXPECTED}`,
    });
  });
});

describe("status --watch into a pipe", { skip: embedded.skip }, () => {
  it("writes the tables one after another, without terminal escapes", async () => {
    const cluster = await TestCluster.start({ kind: embedded });
    try {
      const watch = startLineProcess(
        process.execPath,
        [CLI_PATH, "-c", cluster.configFile, "status", "--watch", "1", "--wait", "0.2"],
        {
          env: ENV,
        },
      );
      let out = "";
      watch.child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString()));
      await watch.waitFor(/^glimpse-cluster status, every 1 s/);
      // The second round: a heading after the first one's tables.
      await new Promise<void>((resolve) => {
        const check = () => (out.split("glimpse-cluster status, every 1 s").length > 2 ? resolve() : undefined);
        watch.child.stdout!.on("data", check);
        check();
      });
      await watch.kill("SIGINT");
      assert.equal(watch.child.exitCode, 0);
      assert.ok(!out.includes("\x1b"), "no escape sequence");
      assert.match(out, /^glimpse-cluster status, every 1 s \(Ctrl-C to stop\): \S+\n\nSERVER +FUNCTION/);
      assert.match(out, /\n\nglimpse-cluster status, every 1 s \(Ctrl-C to stop\): \S+\n\nSERVER +FUNCTION/);
    } finally {
      await cluster.close();
    }
  });
});

describe("counts in messages", () => {
  it("a node of one thread says 1 thread", () => {
    const options = { threads: 1, prefetch: 1, labels: [], exclusive: false, jobServers: ["127.0.0.1:4730"] };
    assert.equal(
      startedLine("n1", options),
      "worker node n1 started with 1 thread (prefetch 1), job servers 127.0.0.1:4730",
    );
    assert.equal(
      startedLine("n2", { ...options, threads: 2, labels: ["gpu"], exclusive: true }),
      "worker node n2 started with 2 threads (prefetch 1), labels gpu (exclusive), job servers 127.0.0.1:4730",
    );
  });
});

describe("the progress bar", () => {
  const sink = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (text: string) => written.push(text) > 0 } };
  };

  it("is drawn in place only on a terminal, and not on TERM=dumb; elsewhere a plain line per quarter", () => {
    const terminal = sink(true);
    new ProgressBar("pi", terminal.stream, 10, { TERM: "xterm" }).update(4, 4);
    const drawn = terminal.written.join("");
    assert.match(drawn, /^\rpi \[#{10}\] 100% 4\/4 \d+ items\/s/);
    assert.ok(drawn.endsWith("\x1b[K\n"), JSON.stringify(drawn)); // erased to the end of the line, then done
    for (const [isTTY, env] of [
      [false, { TERM: "xterm" }],
      [true, { TERM: "dumb" }],
    ] as const) {
      const plain = sink(isTTY);
      const bar = new ProgressBar("pi", plain.stream, 10, env);
      // Updates closer than 100 ms apart are skipped, except the last: two, to keep clear of that.
      bar.update(1, 4);
      bar.update(4, 4);
      assert.deepEqual(plain.written, ["pi 25% (1/4)\n", "pi 100% (4/4)\n"]);
    }
  });
});

describe("configuration errors a client meets", () => {
  it("a key given twice names both lines", async () => {
    const config = file("twice.ini", [
      "[client]",
      "job_server_url = 127.0.0.1:4730",
      "chunksize = 4",
      "",
      "chunksize = 8",
    ]);
    const result = await cli(["-c", config, "ping-workers"]);
    assert.equal(
      result.stderr,
      `glimpse-cluster: ${config} [client] chunksize: set twice, on lines 3 and 5; keep one\n`,
    );
    assert.equal(result.code, 2);
  });

  it("an empty config, or one with only [server], names the missing job_server_url", async () => {
    for (const [name, lines] of [
      ["empty.ini", []],
      ["server-only.ini", ["[server]", "prefetch = 0"]],
    ] as const) {
      const config = file(name, lines);
      const result = await cli(["-c", config, "ping-workers"]);
      assert.equal(
        result.stderr,
        `glimpse-cluster: ${config} [client] job_server_url: not set: a client needs the job servers' addresses, e.g. job_server_url = 127.0.0.1:4730\n`,
        name,
      );
      assert.equal(result.code, 2, name);
    }
    // The broker needs no job server.
    assert.equal(loadConfig(file("broker.ini", ["[server]", "prefetch = 0"]), {})!.client.jobServers.length, 0);
  });

  it("a key in the other section says where it belongs", () => {
    const config = file("misplaced.ini", ["[client]", "job_server_url = 127.0.0.1:4730", "prefetch = 0"]);
    assert.throws(() => loadConfig(config, {}), {
      message: `${config} [client] prefetch: a [server] key: it belongs in [server], not [client]`,
    });
    assert.throws(() => loadConfig({ server: { job_server_url: "a:1" } }, {}), {
      message: "config object [server] job_server_url: a [client] key: it belongs in [client], not [server]",
    });
  });

  it("an http:// job server says what a job server address is, without an IPv6 hint", () => {
    assert.throws(() => loadConfig({ client: { job_server_url: "http://gear1:4730" } }, {}), {
      message:
        'config object [client] job_server_url: expected host:port (or unix:/path for a Unix socket), or a comma-separated list of them, got "http://gear1:4730" (job servers: "http://gear1:4730": a job server is not reached over http://; write host:port (or gearman://host:port))',
    });
  });

  it("a secret that is too short, a comment or an instruction, or not random is refused without echoing it", () => {
    const cases: [string, string][] = [
      ["tooshort", "too short"],
      ["paste-the-output-of-glimpse-cluster-keygen-here", "the text of an instruction, not a secret"],
      ["abababababababababababababababababababab", "only 2 different characters: not a random value"],
    ];
    for (const [secret, why] of cases) {
      const config = file("secret.ini", ["[client]", `secret = ${secret}`]);
      assert.throws(
        () => loadConfig(config, {}),
        {
          message: `${config} [client] secret: expected ${SECRET_EXPECTED}, got a value of ${Buffer.byteLength(secret)} bytes (${why})`,
        },
        secret,
      );
    }
    // In a file, a ";" starts a comment; given as an object (or in the environment, above), the comment line is refused.
    const comment = "; glimpse-cluster keys: put these in the [client] section of every member's config";
    assert.throws(() => loadConfig({ client: { secret: comment } }, {}), {
      message: `config object [client] secret: expected ${SECRET_EXPECTED}, got a value of ${Buffer.byteLength(comment)} bytes (a comment line, not a secret)`,
    });
  });
});
