#!/usr/bin/env node
/**
 * The glimpse-cluster command. Each subcommand lives in cli/commands/ and
 * registers itself on the program; its action imports the parts of the
 * cluster it runs when it runs (a worker node's supervisor, started again and
 * again by tests and by deploy scripts, loads a quarter of the package, not all
 * of it; layers.test.ts keeps it so). This file only wires them and maps
 * failures to exit codes: 0 success, 2 usage or configuration error (a
 * UsageError, ConfigError, JobsConfigError or ArgumentError: its message alone is printed),
 * 130 interrupted (Ctrl-C; 128 + the signal's number), 3 degraded (ping-workers and status: they
 * looked, and found something wrong), 1 runtime error (with its stack; a CliError with its
 * message alone).
 */
import { Command, CommanderError } from "commander";
import { CliError, UsageError, signalExitCode } from "./errors.js";
import { registerJobServer } from "./commands/job-server.js";
import { registerLaunchBroker } from "./commands/launch-broker.js";
import { registerLaunchWorker } from "./commands/launch-worker.js";
import { registerClusterCommands } from "./commands/cluster-commands.js";
import { registerDemo } from "./commands/demo.js";
import { registerKeygen } from "./commands/keygen.js";
import { registerServe } from "./commands/serve.js";
import { registerStatus } from "./commands/status.js";
import { registerDashboard } from "./commands/dashboard.js";
import { PACKAGE_VERSION } from "../lib/version.js";

export function buildProgram(): Command {
  const program = new Command("glimpse-cluster")
    .description("Distributed parallel map over Gearman: job server, worker nodes, broker and cluster commands")
    .option("-c, --config <file>", "configuration file (ini); may be given more than once", collect, [] as string[])
    .option("-v, --verbose", "log more")
    .version(PACKAGE_VERSION, "-V, --version", "print the version and exit")
    // One hint, not the whole help: a usage error stays a few lines on stderr.
    .showHelpAfterError(
      "(glimpse-cluster --help lists the commands; glimpse-cluster COMMAND --help, a command's options)",
    )
    .exitOverride();
  registerDemo(program);
  registerJobServer(program);
  registerLaunchBroker(program);
  registerLaunchWorker(program);
  registerClusterCommands(program);
  registerStatus(program);
  registerDashboard(program);
  registerKeygen(program);
  registerServe(program);
  return program;
}

/** An error's message alone, after the command it concerns; nothing when it is empty (it was said already). */
function say(error: Error): void {
  if (error.message === "") return;
  const command = error instanceof CliError && error.command ? ` ${error.command}` : "";
  process.stderr.write(`glimpse-cluster${command}: ${error.message}\n`);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    const code = (error as { code?: unknown }).code;
    if (error instanceof UsageError || code === "CONFIG" || code === "JOBS_CONFIG" || code === "BAD_ARGUMENT") {
      say(error as Error);
      return 2;
    }
    if (error instanceof CliError) {
      say(error);
      if (error.code === "INTERRUPTED")
        return signalExitCode((error as { signal?: NodeJS.Signals }).signal ?? "SIGINT");
      return error.code === "DEGRADED" ? 3 : 1;
    }
    process.stderr.write(`glimpse-cluster: ${(error as Error).stack ?? error}\n`);
    return 1;
  }
}

void main(process.argv).then((code) => {
  process.exitCode = code;
});
