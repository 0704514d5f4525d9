/** kill-workers, restart-workers, drain, online, ping-workers and logs: commands a client sends to, or hears from, the worker nodes. */
import type { Command } from "commander";
import type { ClusterControl } from "../../lib/control/cluster-control.js";
import { controlOptions } from "../../lib/config/channel-options.js";
import type { ClusterConfig } from "../../lib/config/index.js";
import { clusterConfig } from "../cluster-config.js";
import { positiveSeconds } from "../arguments.js";
import { formatPingTable } from "../ping-table.js";
import { reportReach, unreachedLines } from "../reach-report.js";
import { UsageError, nodesNotReached, unreachableSaid } from "../errors.js";
import { PoolError } from "../../lib/pool-error.js";
import type { Reach } from "../../lib/control/reachability.js";
import { clusterStatus } from "../../lib/dashboard/cluster-status.js";
import { JobServerWatch } from "../../lib/dashboard/job-server-watch.js";
import { judgeHealth } from "../problems-report.js";
import { checkSelector, type NodeSelector } from "../../lib/control/node-selector.js";

async function openControl(config: ClusterConfig): Promise<ClusterControl> {
  const { ClusterControl } = await import("../../lib/control/cluster-control.js");
  return ClusterControl.open(controlOptions(config.client));
}

/**
 * Runs a cluster command, then says what it could not reach (and fails when it reached nothing it needs); then
 * `verdict`, given what it returned and what it reached, may fail it still (ping-workers and status: degraded).
 */
export async function withControl<T>(
  command: Command,
  run: (control: ClusterControl) => Promise<T>,
  report = true,
  verdict?: (result: T, reach: Reach) => void,
): Promise<T> {
  const control = await openControl(clusterConfig(command));
  try {
    let result: T;
    try {
      result = await run(control);
    } catch (error) {
      // A command that failed (drain or online finding no node, a channel end not reached) still names what it
      // could not reach: often why it failed, and then said in full by those lines.
      const unreachable = error instanceof PoolError && error.code === "CHANNEL_UNREACHABLE";
      if (report || unreachable)
        for (const line of unreachedLines(await control.reach())) process.stderr.write(`glimpse-cluster: ${line}\n`);
      throw unreachable ? unreachableSaid() : error;
    }
    if (report) {
      const reach = await control.reach();
      reportReach(reach);
      verdict?.(result, reach);
    }
    return result;
  } finally {
    await control.close();
  }
}

export function registerClusterCommands(program: Command): void {
  for (const [name, alias, verb, description] of [
    ["kill-workers", "KillWorkers", "quit", "tell every worker node to quit (its supervisor exits too)"],
    [
      "restart-workers",
      "RestartWorkers",
      "restart",
      "tell every worker node to restart (its supervisor starts it again)",
    ],
  ] as const) {
    program
      .command(name)
      .alias(alias)
      .description(description)
      .option("--wait <seconds>", "how long to wait for the nodes' acknowledgements", positiveSeconds("--wait"), 10)
      .action((options: { wait: number }, command: Command) =>
        withControl(command, async (control) => {
          const waitMs = options.wait * 1000;
          const acked =
            verb === "quit"
              ? await control.commands.quitWorkers(waitMs)
              : await control.commands.restartWorkers(waitMs);
          process.stdout.write(`${acked.length} worker node${acked.length === 1 ? "" : "s"} told to ${verb}\n`);
        }),
      );
  }

  for (const [verb, description] of [
    [
      "drain",
      "take worker nodes out of service: they unregister their functions, finish their running chunks, hand back the ones they hold unstarted and stay up",
    ],
    ["online", "put drained worker nodes back in service: they register their functions again"],
  ] as const) {
    program
      .command(verb)
      .description(description)
      .argument("[selector]", "a pid, host:pid, host name, node id or label:NAME")
      .option("--all", "every live worker node")
      .option("--wait <seconds>", "how long to wait for the nodes' acknowledgements", positiveSeconds("--wait"), 10)
      .action((selector: string | undefined, options: { all?: boolean; wait: number }, command: Command) => {
        if ((selector === undefined) === !options.all)
          throw new UsageError(
            `${verb}: give either a selector (pid, host:pid, host name, node id, label:NAME) or --all`,
          );
        let chosen: NodeSelector;
        try {
          chosen = options.all ? { all: true } : checkSelector(`${verb} selector`, selector);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        return withControl(command, async (control) => {
          try {
            const nodes = await control.commands.setNodeState(verb, chosen, options.wait * 1000);
            process.stdout.write(
              `${nodes.length} worker node${nodes.length === 1 ? "" : "s"} ${verb === "drain" ? "drained" : "online"}: ${nodes.sort().join(", ")}\n`,
            );
          } catch (error) {
            // A selector matching nothing, or a node that did not answer: the message says which, no stack needed.
            throw error instanceof PoolError && error.code !== "CHANNEL_UNREACHABLE" ? nodesNotReached(error) : error;
          }
        });
      });
  }

  program
    .command("ping-workers")
    .alias("PingWorkers")
    .description("list the live worker nodes with their statistics")
    .argument(
      "[wait_seconds]",
      "how long to wait for replies (less once every node registered at the job servers answered)",
      positiveSeconds("wait_seconds"),
      2,
    )
    .action(async (waitSeconds: number, _options: unknown, command: Command) => {
      await withControl(
        command,
        async (control) => {
          const { jobServers, tls } = control.cluster;
          const watch = new JobServerWatch(jobServers, tls, undefined, (server) => control.nodes.admin(server));
          try {
            const status = await clusterStatus(control, watch, waitSeconds * 1000);
            process.stdout.write(`${formatPingTable(status.nodes)}\n`);
            // The table is the original's, for scripts: what is wrong goes to stderr, as what could not be reached.
            for (const problem of status.problems) process.stderr.write(`glimpse-cluster: ${problem.message}\n`);
            return status.problems;
          } finally {
            await watch.close();
          }
        },
        true,
        judgeHealth,
      );
    });

  program
    .command("logs")
    .description("follow the log channel: every worker node's log records, as they come (Ctrl-C to stop)")
    .option("--json", "print each record as a JSON line")
    .action((options: { json?: boolean }, command: Command) =>
      withControl(
        command,
        async (control) => {
          const stop = new AbortController();
          for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
          // Following the logs never ends by itself: say early what cannot be reached, and give up if it is everything.
          let unreachable: unknown;
          const probe = setTimeout(() => {
            void control.reach().then((reach) => {
              try {
                reportReach(reach, undefined, (end) => end.channel === "log");
              } catch (error) {
                unreachable = error;
                stop.abort();
              }
            });
          }, LOGS_PROBE_MS);
          stop.signal.addEventListener("abort", () => clearTimeout(probe));
          for await (const record of control.log.records(stop.signal)) {
            process.stdout.write(
              options.json
                ? `${JSON.stringify(record)}\n`
                : `${new Date(record.time).toISOString()} ${record.host}:${record.pid} ${record.level.toUpperCase()} ${record.message}\n`,
            );
          }
          if (unreachable) throw unreachable;
        },
        false,
      ),
    );
}

/** How long `logs` waits for its connections before it reports what it could not reach. */
const LOGS_PROBE_MS = 2000;
