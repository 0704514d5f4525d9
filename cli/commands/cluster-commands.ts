/** kill-workers, restart-workers, ping-workers and logs: commands a client sends to, or hears from, the worker nodes. */
import type { Command } from "commander";
import { ClusterControl } from "../../lib/pool/cluster-control.js";
import type { ClusterConfig } from "../../lib/config/index.js";
import { clusterConfig } from "../cluster-config.js";
import { positiveSeconds } from "../arguments.js";
import { formatPingTable } from "../ping-table.js";

function openControl(config: ClusterConfig): Promise<ClusterControl> {
  const { client } = config;
  return ClusterControl.open({
    jobServers: client.jobServers,
    commandUrl: client.commandFrontendUrl,
    commandBind: client.commandFrontendUrl === client.commandBackendUrl,
    logUrl: client.logBackendUrl,
    logBind: client.logFrontendUrl === client.logBackendUrl,
  });
}

async function withControl<T>(command: Command, run: (control: ClusterControl) => Promise<T>): Promise<T> {
  const control = await openControl(clusterConfig(command));
  try {
    return await run(control);
  } finally {
    await control.close();
  }
}

export function registerClusterCommands(program: Command): void {
  program
    .command("kill-workers")
    .alias("KillWorkers")
    .description("tell every worker node to quit (its supervisor exits too)")
    .option("--wait <seconds>", "how long to wait for the nodes' acknowledgements", positiveSeconds("--wait"), 10)
    .action((options: { wait: number }, command: Command) =>
      withControl(command, async (control) => {
        const acked = await control.quitWorkers(options.wait * 1000);
        process.stdout.write(`${acked.length} worker node${acked.length === 1 ? "" : "s"} told to quit\n`);
      }),
    );

  program
    .command("restart-workers")
    .alias("RestartWorkers")
    .description("tell every worker node to restart (its supervisor starts it again)")
    .option("--wait <seconds>", "how long to wait for the nodes' acknowledgements", positiveSeconds("--wait"), 10)
    .action((options: { wait: number }, command: Command) =>
      withControl(command, async (control) => {
        const acked = await control.restartWorkers(options.wait * 1000);
        process.stdout.write(`${acked.length} worker node${acked.length === 1 ? "" : "s"} told to restart\n`);
      }),
    );

  program
    .command("ping-workers")
    .alias("PingWorkers")
    .description("list the live worker nodes with their statistics")
    .argument("[wait_seconds]", "how long to wait for replies (less once every node registered at the job servers answered)", positiveSeconds("wait_seconds"), 2)
    .action((waitSeconds: number, _options: unknown, command: Command) =>
      withControl(command, async (control) => {
        const nodes = await control.ping(waitSeconds * 1000);
        process.stdout.write(`${formatPingTable(nodes)}\n`);
      }),
    );

  program
    .command("logs")
    .description("follow the log channel: every worker node's log records, as they come (Ctrl-C to stop)")
    .option("--json", "print each record as a JSON line")
    .action((options: { json?: boolean }, command: Command) =>
      withControl(command, async (control) => {
        const stop = new AbortController();
        for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
        for await (const record of control.logRecords(stop.signal)) {
          process.stdout.write(
            options.json ? `${JSON.stringify(record)}\n` : `${new Date(record.time).toISOString()} ${record.host}:${record.pid} ${record.level.toUpperCase()} ${record.message}\n`,
          );
        }
      }),
    );
}
