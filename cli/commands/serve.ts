/**
 * `glimpse-cluster serve --jobsconfig FILE`: a Gearman worker manager, a
 * drop-in for Driveshaft (its option spellings, kebab-case aliases too).
 * Prints one line to stdout once it serves:
 * `glimpse-cluster serve: N pool(s) from FILE[, status port HOST:PORT][, exporter HOST:PORT]`.
 * SIGHUP or a change of the file reloads it; SIGTERM / SIGINT stop gracefully
 * (running jobs get max_running_time), a second one stops at once; the pid
 * file is removed and serve exits 0. A jobsconfig error exits 2.
 */
import { spawn, execFileSync } from "node:child_process";
import { createWriteStream, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type { Serve, ServeLog } from "../../lib/serve/index.js";
import { loadConfig } from "../../lib/config/index.js";
import { readAddress } from "../../lib/gearman/address.js";
import { positiveSeconds } from "../arguments.js";
import { UsageError } from "../errors.js";
import { namedByFlag, namingFlags } from "../option-flags.js";

interface ServeCliOptions {
  jobsconfig: string;
  maxRunningTime: number;
  loopTimeout?: number;
  statusPort?: { host: string; port: number };
  exporterAddr?: { host: string; port: number };
  pidFile?: string;
  user?: string;
  daemonize?: boolean;
  logconfig?: string;
}

const VERSION = (
  JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

function statusAddress(text: string): { host: string; port: number } {
  const port = Number(text);
  if (/^\d+$/.test(text) && port <= 65535) return { host: "127.0.0.1", port };
  const address = readAddress(text);
  if (typeof address === "string" || !text.includes(":"))
    throw new UsageError(`--status_port: expected PORT or HOST:PORT, got "${text}"`);
  return { host: address.host, port: address.port };
}

function hostPort(name: string) {
  return (text: string) => {
    const m = /^(.*):(\d+)$/.exec(text);
    const port = m ? Number(m[2]) : NaN;
    if (!m || port > 65535) throw new UsageError(`${name}: expected HOST:PORT, got "${text}"`);
    return { host: m[1].replace(/^\[(.*)\]$/, "$1") || "0.0.0.0", port };
  };
}

/** The options each flag fills, so that one serve refuses is named by its flag. */
const FLAGS = {
  Serve: { jobsConfig: "--jobsconfig", maxRunningTime: "--max_running_time" },
  StatusPort: { host: "--status_port", port: "--status_port" },
};

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description(
      "run pools of Gearman workers whose jobs go to an HTTP endpoint or a module, from Driveshaft's jobsconfig (a drop-in for Driveshaft)",
    )
    .requiredOption("--jobsconfig <file>", "Driveshaft's jobsconfig (JSON); watched, and read again on SIGHUP")
    .option(
      "--max_running_time, --max-running-time <seconds>",
      "how long a job may run before it is failed (a pool's max_running_time overrides it)",
      positiveSeconds("--max_running_time"),
      300,
    )
    .option(
      "--loop_timeout, --loop-timeout <seconds>",
      "accepted for Driveshaft's command lines (0.7 requires it); here: how long one connection attempt to a job server may take",
      positiveSeconds("--loop_timeout"),
    )
    .option(
      "--status_port, --status-port <[host:]port>",
      "Driveshaft's text status port (threads, pools, version; GET /metrics too); on 127.0.0.1 unless a host is given",
      statusAddress,
    )
    .option(
      "--exporter_addr, --exporter-addr <host:port>",
      "serve Prometheus metrics (GET /metrics) on this address, as Driveshaft 0.7's exporter",
      hostPort("--exporter_addr"),
    )
    .option("--pid_file, --pid-file <file>", "write the process id here; removed on exit")
    .option(
      "--user <name>",
      "when started as root, switch to this user (after the status and exporter ports are bound)",
    )
    .option(
      "--daemonize",
      "detach and run in the background (working directory /); the command returns once serve runs",
    )
    .option(
      "--logconfig <file>",
      "log4cxx XML config: only the root level and the first FileAppender's File are read; a bad one is warned about, never fatal",
    )
    .action(
      namingFlags(FLAGS, async (options: ServeCliOptions, command: Command) => {
        if (options.daemonize && !process.send) return daemonize();
        await run(options, command);
      }),
    );
}

/** Starts this command again, detached and without --daemonize; returns once the child serves (or fails). */
async function daemonize(): Promise<void> {
  const args = process.argv.slice(2).filter((arg) => arg !== "--daemonize");
  const absolute = args.map((arg, i) =>
    i > 0 && /^--(jobsconfig|pid[_-]file|logconfig)$/.test(args[i - 1])
      ? path.resolve(arg)
      : arg.replace(
          /^(--(?:jobsconfig|pid[_-]file|logconfig)=)(.*)$/,
          (_m, flag: string, value: string) => flag + path.resolve(value),
        ),
  );
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...absolute, "--daemonize"], {
    cwd: "/",
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "ipc"],
  });
  const message = await new Promise<{ ok: boolean; text: string }>((resolve) => {
    child.once("message", (m) => resolve(m as { ok: boolean; text: string }));
    child.once("exit", (code) => resolve({ ok: false, text: `serve exited (${code}) before it was ready` }));
  });
  child.disconnect?.();
  child.unref();
  if (!message.ok) throw new UsageError(message.text);
  process.stdout.write(`${message.text} (pid ${child.pid})\n`);
}

function switchUser(name: string): void {
  if (process.getuid?.() !== 0) throw new UsageError(`--user ${name}: serve must be started as root to switch users`);
  let gid: number;
  try {
    gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8" }).trim());
  } catch {
    throw new UsageError(`--user ${name}: no such user`);
  }
  (process as unknown as { initgroups(user: string, group: number): void }).initgroups(name, gid);
  process.setgid!(gid);
  process.setuid!(name);
}

function writePidFile(file: string): void {
  try {
    writeFileSync(file, `${process.pid}\n`);
  } catch (error) {
    throw new UsageError(`--pid_file ${file}: ${(error as Error).message}`);
  }
}

/** After --user, the user may not be allowed to remove the file it could not have written: say so, exit normally. */
function removePidFile(file: string, log: ServeLog): void {
  try {
    rmSync(file, { force: true });
  } catch (error) {
    log("warn", `--pid_file ${file} is left in place: ${(error as Error).message}`);
  }
}

async function run(options: ServeCliOptions, command: Command): Promise<void> {
  const configFiles = (command.optsWithGlobals().config as string[] | undefined) ?? [];
  const [{ Serve, StatusPort, MetricsExporter, readLogConfig, lineLog }, { resolvePolicy }] = await Promise.all([
    import("../../lib/serve/index.js"),
    import("../../lib/node/function-policy.js"),
  ]);
  const logSettings = readLogConfig(options.logconfig);
  const out = logSettings.file ? createWriteStream(logSettings.file, { flags: "a" }) : undefined;
  const log: ServeLog = lineLog((line) => (out ? out.write(line) : process.stderr.write(line)), logSettings.level);
  if (logSettings.warning) log("warn", logSettings.warning);
  const cluster =
    configFiles.length > 0 || process.env.GLIMPSE_CLUSTER_CONFIG
      ? loadConfig(configFiles.length > 0 ? configFiles : undefined)
      : null;
  const report = (ok: boolean, text: string) => {
    if (process.send) process.send({ ok, text });
    if (ok && !process.send) process.stdout.write(`${text}\n`);
  };
  let serve: Serve;
  try {
    serve = await Serve.open({
      jobsConfig: options.jobsconfig,
      maxRunningTime: options.maxRunningTime,
      connectTimeoutMs: options.loopTimeout === undefined ? undefined : Math.ceil(options.loopTimeout * 1000),
      policy: (servers) =>
        resolvePolicy(
          cluster?.server.allowSource ?? "auto",
          cluster?.client.secret !== undefined,
          servers,
          cluster?.server.allowedModules ?? [],
        ),
      log,
    });
  } catch (error) {
    // A daemon's parent prints the message: the flag's name, as the foreground command does.
    if (process.send) report(false, (namedByFlag(error, FLAGS, command) as Error).message);
    throw error;
  }
  const status = options.statusPort ? new StatusPort(serve, { ...options.statusPort, version: VERSION }) : undefined;
  const exporter = options.exporterAddr ? new MetricsExporter(serve.metrics) : undefined;
  const parts = [`glimpse-cluster serve: ${serve.summaries().length || "no"} pool(s) from ${serve.file}`];
  try {
    if (status) {
      const a = await status.listen();
      parts.push(`status port ${a.address}:${a.port}`);
    }
    if (exporter) {
      const a = await exporter.listen(options.exporterAddr!.host, options.exporterAddr!.port);
      parts.push(`exporter ${a.address}:${a.port}`);
    }
    // Before the switch: a pid file usually lives where only root may write (/run).
    if (options.pidFile) writePidFile(options.pidFile);
    if (options.user) switchUser(options.user);
  } catch (error) {
    if (options.pidFile && existsSync(options.pidFile)) removePidFile(options.pidFile, log);
    await status?.close();
    await exporter?.close();
    const text = error instanceof UsageError ? error.message : `cannot listen: ${(error as Error).message}`;
    if (process.send) report(false, text);
    throw error instanceof UsageError ? error : new UsageError(text);
  }
  serve.start();
  parts[0] = `glimpse-cluster serve: ${serve.summaries().length} pool(s) from ${serve.file}`;
  report(true, parts.join(", "));
  if (process.send) process.disconnect();

  await new Promise<void>((resolve) => {
    let signalled = false;
    const stop = (signal: string) => {
      if (signalled) {
        log("warn", `${signal} again: stopping at once, failing running jobs`);
        return void serve.abort();
      }
      signalled = true;
      log("info", `${signal}: taking no new jobs; running jobs get their max_running_time`);
      void serve.stop().then(resolve);
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", () => void serve.reload());
  });
  await status?.close();
  await exporter?.close();
  if (options.pidFile) removePidFile(options.pidFile, log);
  log("info", "stopped");
  await new Promise<void>((resolve) => (out ? out.end(resolve) : resolve()));
}
