/**
 * The several-machine walk-throughs, run as written on simulated machines
 * (network namespaces on a bridge, test/support/netns.ts; root only): the
 * commands they show, with `glimpse-cluster` on PATH running this build.
 *
 * examples/cluster/README.md: hosts jobs, w1, w2 and laptop. Its `sh`
 * blocks are read from the file: a comment `# on HOSTS: ...` says where the
 * commands below it run, a command ending in `&` keeps running (the test
 * waits for the line that says it is up), any other must exit 0; its `ts`
 * block runs on the laptop and must print [ 1, 4, 9 ]. The one edit the
 * README asks for, `host` in cluster.ini, is made.
 *
 * docs/deploy.md: hosts gear1, gear2, broker1, w1, w2 and client. Every
 * command the test runs must be in the document word for word (or be a
 * unit's ExecStart from deploy/), so the two cannot drift apart; paths are
 * moved into a directory of the test (/etc/glimpse-cluster,
 * /var/lib/glimpse-cluster, `$(npm root -g)`) and `sudo ` is dropped (the
 * test runs as root). What cannot run here (npm install --global, useradd,
 * systemctl, docker) is named in a diagnostic.
 */
import { after, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { missingPeer, programPath } from "./support/peers.js";
import { SimulatedNetwork, type SimulatedHost } from "./support/netns.js";
import { HostProcess, waitForListener } from "./support/host-cluster.js";
import { CLI_PATH } from "./support/job-servers.js";
import { runOn, type HostRun } from "./support/host-cli.js";
import { cliOnPath } from "./support/cli-run.js";

const ROOT = path.resolve(path.dirname(CLI_PATH), "../..");

/** The line a long-running command prints once it serves, by its subcommand. */
const READY: Record<string, RegExp> = {
  "job-server": /listening on/,
  "launch-broker": /broker listening/,
  "launch-worker": /worker node .* started/,
  dashboard: /dashboard on http/,
};

function readyLine(command: string): RegExp {
  const sub = Object.keys(READY).find((name) => new RegExp(`\\bglimpse-cluster\\b.* ${name}\\b`).test(command));
  if (sub === undefined) throw new Error(`no ready line known for: ${command}`);
  return READY[sub];
}

/** The fenced blocks of a Markdown file, in order. */
function fences(text: string): { lang: string; body: string }[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1], body: m[2] }));
}

/** A walk-through's machines, its working directory, and what it started. */
class Walk {
  readonly network = new SimulatedNetwork();
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-walk-"));
  readonly bin = cliOnPath(this.dir);
  readonly processes: HostProcess[] = [];

  /** This process's environment without a cluster's, with `glimpse-cluster` on PATH. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("GLIMPSE_CLUSTER_")),
    );
    return { ...env, PATH: `${this.bin}:${env.PATH}`, ...extra };
  }

  /** Runs a shell command on `host` in `cwd`; it must exit 0. */
  async sh(host: SimulatedHost, command: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<HostRun> {
    const run = await runOn(host, "bash", ["-e", "-c", command], { env: this.env(env), cwd });
    assert.equal(run.code, 0, `on ${host.name}: ${command}\nexited ${run.code}:\n${run.stdout}${run.stderr}`);
    return run;
  }

  /** Starts a command that keeps running on `host` (exec'd by bash, so a signal reaches it). */
  launch(host: SimulatedHost, command: string, cwd: string, env: NodeJS.ProcessEnv = {}): HostProcess {
    const child = host.spawn("bash", ["-c", `exec ${command}`], {
      stdio: ["ignore", "pipe", "pipe"],
      env: this.env(env),
      cwd,
    });
    const running = new HostProcess(`${command} on ${host.name}`, child);
    this.processes.push(running);
    return running;
  }

  /** launch(), resolving once the command printed its `ready` line. */
  async start(host: SimulatedHost, command: string, cwd: string, ready: RegExp, env: NodeJS.ProcessEnv = {}) {
    const running = this.launch(host, command, cwd, env);
    await running.waitFor(ready, 60_000);
    return running;
  }

  /** Compiles a `ts` block as the docs test does and runs it with node on `host` in `cwd`, where `glimpse-cluster` resolves to this package. */
  async module(host: SimulatedHost, code: string, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<HostRun> {
    const source = ts.transpileModule(code, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    mkdirSync(path.join(cwd, "node_modules"), { recursive: true });
    symlinkSync(ROOT, path.join(cwd, "node_modules", "glimpse-cluster"), "dir");
    writeFileSync(path.join(cwd, "example.mjs"), source);
    const run = await runOn(host, process.execPath, ["example.mjs"], { env: this.env(env), cwd });
    assert.equal(run.code, 0, `the client program on ${host.name} exited ${run.code}:\n${run.stdout}${run.stderr}`);
    return run;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.processes.map((p) => p.stop()));
    this.network.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `glimpse-cluster ping-workers`' rows, one per node. */
const nodeRows = (table: string) =>
  table
    .trim()
    .split("\n")
    .filter((line) => !line.startsWith("HOST "));

describe(
  "the several-machine walk-throughs, run as written (simulated hosts)",
  {
    skip: missingPeer("netns"),
    concurrency: true,
  },
  () => {
    describe("examples/cluster/README.md", () => {
      const walk = new Walk();
      after(() => walk.close());

      it("secret, job server and broker on jobs, a worker node on w1 and w2, ping-workers and the map on the laptop", async (t: TestContext) => {
        const readme = readFileSync(path.join(ROOT, "examples/cluster/README.md"), "utf8");
        const hosts = new Map<string, SimulatedHost>();
        for (const name of ["jobs", "w1", "w2", "laptop"]) hosts.set(name, walk.network.addHost(name));
        // Every machine has the same directory with cluster.ini (host edited, as the README asks) and, made below, cluster.secret.
        const work = path.join(walk.dir, "cluster");
        mkdirSync(work);
        const ini = readFileSync(path.join(ROOT, "examples/cluster/cluster.ini"), "utf8");
        assert.match(ini, /^host = jobs\.example\.internal$/m);
        writeFileSync(
          path.join(work, "cluster.ini"),
          ini.replace(/^host = .*$/m, `host = ${hosts.get("jobs")!.address}`),
        );

        const blocks = fences(readme);
        let ran = 0;
        for (const block of blocks.filter((b) => b.lang === "sh")) {
          let where: SimulatedHost[] = [];
          for (const line of block.body.split("\n")) {
            const comment = /^# on (.+?)[:,]/.exec(line);
            if (comment) {
              where = [...hosts.keys()]
                .filter((name) => new RegExp(`\\b${name}\\b`).test(comment[1]))
                .map((n) => hosts.get(n)!);
              assert.ok(where.length > 0, `no machine named in: ${line}`);
              continue;
            }
            if (line.trim() === "" || line.startsWith("#")) continue;
            assert.ok(where.length > 0, `a command before any "# on ..." comment: ${line}`);
            const command = line.replace(/\s+#.*$/, "").trim();
            if (command.endsWith("&")) {
              const foreground = command.slice(0, -1).trim();
              await Promise.all(where.map((host) => walk.start(host, foreground, work, readyLine(foreground))));
            } else {
              const runs = await Promise.all(where.map((host) => walk.sh(host, command, work)));
              if (/ ping-workers\b/.test(command)) {
                assert.equal(nodeRows(runs[0].stdout).length, 2, `two worker nodes:\n${runs[0].stdout}`);
                assert.equal(runs[0].stderr, "");
              }
            }
            ran++;
          }
        }
        assert.ok(ran >= 5, `ran ${ran} commands of the README`);
        assert.match(readFileSync(path.join(work, "cluster.secret"), "utf8"), /^[\w-]{43}\n$/);

        const program = blocks.filter((b) => b.lang === "ts");
        assert.equal(program.length, 1, "one client program");
        const run = await walk.module(hosts.get("laptop")!, program[0].body, work);
        assert.equal(run.stdout, "[ 1, 4, 9 ]\n");

        const status = await walk.sh(hosts.get("laptop")!, "glimpse-cluster -c cluster.ini status", work);
        assert.doesNotMatch(status.stdout, /PROBLEMS/);
        t.diagnostic(`ran ${ran} commands and the client program (load ${os.loadavg()[0].toFixed(1)})`);
      });
    });

    describe("docs/deploy.md", () => {
      const walk = new Walk();
      after(() => walk.close());

      it("the configuration and secret, gearmand on gear1, the embedded server's unit on gear2, broker and dashboard on broker1, workers on w1 and w2, then step 5 on a client", async (t: TestContext) => {
        const doc = readFileSync(path.join(ROOT, "docs/deploy.md"), "utf8");
        /** A command of the document, word for word, with its paths moved into the test's directory. */
        const etc = path.join(walk.dir, "etc-glimpse-cluster");
        const state = path.join(walk.dir, "var-lib-glimpse-cluster");
        const npmRoot = path.join(walk.dir, "npm-root");
        mkdirSync(state);
        mkdirSync(npmRoot);
        symlinkSync(ROOT, path.join(npmRoot, "glimpse-cluster"), "dir");
        const moved = (text: string) =>
          text
            .replaceAll("sudo ", "")
            .replaceAll("/etc/glimpse-cluster", etc)
            .replaceAll("/var/lib/glimpse-cluster", state)
            .replaceAll("$(npm root -g)", npmRoot);
        const shown = (text: string) => {
          assert.ok(doc.includes(text), `docs/deploy.md no longer shows:\n${text}`);
          return moved(text);
        };
        /** A unit of deploy/: its ExecStart (after /usr/bin/env) and the environment its EnvironmentFile gives. */
        const unit = (name: string) => {
          assert.ok(doc.includes(name), `docs/deploy.md does not mention ${name}`);
          const text = readFileSync(path.join(ROOT, "deploy", name), "utf8");
          const exec = /^ExecStart=\/usr\/bin\/env (.*)$/m.exec(text)![1];
          const file = moved(/^EnvironmentFile=(.*)$/m.exec(text)![1]);
          const env: NodeJS.ProcessEnv = {};
          for (const line of readFileSync(file, "utf8").split("\n")) {
            const m = /^([A-Z_]+)=(.*)$/.exec(line);
            if (m) env[m[1]] = moved(m[2]);
          }
          return { command: moved(exec), env };
        };

        const hosts = new Map<string, SimulatedHost>();
        for (const name of ["gear1", "gear2", "broker1", "w1", "w2", "client"])
          hosts.set(name, walk.network.addHost(name));
        const host = (name: string) => hosts.get(name)!;

        // 1. Everywhere (one directory stands for every machine's /etc/glimpse-cluster): the files, the host names, the secret.
        for (const line of [
          "sudo install -d -m 755 /etc/glimpse-cluster",
          'sudo install -m 644 "$(npm root -g)/glimpse-cluster/deploy/cluster.ini" /etc/glimpse-cluster/',
          'sudo install -m 600 "$(npm root -g)/glimpse-cluster/deploy/cluster.env" /etc/glimpse-cluster/',
        ])
          await walk.sh(host("client"), shown(line), walk.dir);
        // cluster.env names the configuration by its path, which is in the test's directory here.
        const envFile = path.join(etc, "cluster.env");
        writeFileSync(envFile, moved(readFileSync(envFile, "utf8")));
        const iniFile = path.join(etc, "cluster.ini");
        let ini = readFileSync(iniFile, "utf8");
        for (const name of ["gear1", "gear2", "broker1"]) {
          assert.ok(ini.includes(`${name}.example.internal`), `cluster.ini names ${name}`);
          ini = ini.replaceAll(`${name}.example.internal`, host(name).address);
        }
        writeFileSync(iniFile, ini);
        const secretBlock = fences(doc).find((b) => b.body.includes("keygen --secret-only"))!;
        await walk.sh(host("client"), shown(secretBlock.body), walk.dir);
        const env = readFileSync(path.join(etc, "cluster.env"), "utf8");
        assert.match(env, /^GLIMPSE_CLUSTER_SECRET=[\w-]{43}$/m, "the placeholder replaced by a secret");
        assert.doesNotMatch(env, /paste-/);

        // 2. gearmand on gear1 with the PARAMS the document gives; the embedded server's unit on gear2.
        const params = /^PARAMS="(.*)"$/m.exec(doc)![1];
        const gearmand = programPath("gearmand");
        const servers: Promise<unknown>[] = [];
        if (gearmand === undefined)
          t.diagnostic("gearmand is not installed: gear1 runs the embedded server's unit too");
        else {
          // gearmand says nothing once it listens: its port is watched instead.
          const server = walk.launch(host("gear1"), `${gearmand} ${params} --log-file none`, walk.dir);
          servers.push(waitForListener(host("gear1"), 4730, server));
        }
        const jobServer = unit("glimpse-job-server.service");
        servers.push(walk.start(host("gear2"), jobServer.command, walk.dir, READY["job-server"], jobServer.env));
        if (gearmand === undefined)
          servers.push(walk.start(host("gear1"), jobServer.command, walk.dir, READY["job-server"], jobServer.env));
        // 3. The broker and the dashboard on broker1.
        const broker = unit("glimpse-broker.service");
        servers.push(walk.start(host("broker1"), broker.command, walk.dir, READY["launch-broker"], broker.env));
        await Promise.all(servers);
        const dashboard = unit("glimpse-dashboard.service");
        await walk.start(host("broker1"), dashboard.command, walk.dir, READY.dashboard, dashboard.env);
        // 4. A worker node on w1 and w2.
        const worker = unit("glimpse-worker.service");
        await Promise.all(
          ["w1", "w2"].map((name) =>
            walk.start(host(name), worker.command, walk.dir, READY["launch-worker"], worker.env),
          ),
        );

        // 5. On a client: the environment, status and ping-workers, then the client program.
        const check = fences(doc).find((b) => b.body.includes("glimpse-cluster status"))!;
        const commands = check.body.split("\n").filter((line) => !/^glimpse-cluster logs\b/.test(line));
        const status = await walk.sh(host("client"), shown(commands.join("\n")), walk.dir);
        t.diagnostic(`step 5 printed:\n${status.stdout}`);
        for (const name of ["gear1", "gear2"])
          assert.match(
            status.stdout,
            new RegExp(`^${host(name).address.replace(/\./g, "\\.")}:4730\\s+glimpse_map\\s+0\\s+0\\s+2$`, "m"),
          );
        const tables = status.stdout.split(/^HOST .*$/m);
        assert.equal(tables.length, 3, "status's node table, then ping-workers'");
        assert.equal(nodeRows(tables[2]).length, 2, "ping-workers lists both nodes");
        assert.equal(status.stderr, "");
        const program = fences(doc).find((b) => b.lang === "ts" && b.body.includes("MakePool("))!;
        const environment = Object.fromEntries(
          readFileSync(path.join(etc, "cluster.env"), "utf8")
            .split("\n")
            .map((line) => /^([A-Z_]+)=(.*)$/.exec(line))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => [m[1], moved(m[2])]),
        );
        const clientDir = path.join(walk.dir, "client");
        mkdirSync(clientDir);
        const run = await walk.module(host("client"), moved(program.body), clientDir, environment);
        assert.equal(run.stdout, "[ 1, 4, 9 ]\n");

        // The dashboard (step 3) and a worker's metrics (step 6), where they listen: 127.0.0.1 of their machines.
        const fetchOn = (name: string, url: string) =>
          runOn(host(name), process.execPath, [
            "-e",
            `fetch(${JSON.stringify(url)}).then((r) => r.text()).then((t) => process.stdout.write(t))`,
          ]);
        const snapshot = JSON.parse((await fetchOn("broker1", "http://127.0.0.1:8787/api/snapshot")).stdout) as {
          nodes: unknown[];
          warnings: unknown[];
        };
        assert.equal(snapshot.nodes.length, 2);
        assert.deepEqual(snapshot.warnings, []);
        assert.match((await fetchOn("w1", "http://127.0.0.1:9465/metrics")).stdout, /^glimpse_node_threads \d+$/m);
        t.diagnostic(
          `not run here: npm install --global, useradd, systemctl (the units' ExecStart ran, as root), docker (load ${os.loadavg()[0].toFixed(1)})`,
        );
      });
    });
  },
);
