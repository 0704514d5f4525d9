/**
 * `glimpse-cluster status [--json] [--watch SECONDS]`: every job server's
 * functions (queued, running, workers; admin protocol, so gearmand too, and
 * a row for one that cannot be reached), then the worker nodes' ping table.
 * --watch redraws it in place every SECONDS until Ctrl-C on a terminal;
 * into a pipe or file it writes the tables one after another, without
 * terminal escapes (with --json: one JSON document per line). After the
 * tables, the problems found (cluster-problems.ts): nodes the job servers
 * and the channels disagree about, jobs no worker can take; then (not
 * watching) exit 3. A channel endpoint it cannot reach leaves the node table
 * empty, and is named on stderr (exit 1).
 */
import type { Command } from "commander";
import { clusterConfig } from "../cluster-config.js";
import { positiveSeconds } from "../arguments.js";
import { formatPingTable } from "../ping-table.js";
import { clusterStatus, type ClusterStatus } from "../../lib/dashboard/cluster-status.js";
import type { JobServerWatch } from "../../lib/dashboard/job-server-watch.js";
import type { ClusterControl } from "../../lib/control/cluster-control.js";
import { formatJobServerTable } from "../job-server-table.js";
import { withControl } from "./cluster-commands.js";
import { reportReach } from "../reach-report.js";
import { PoolError } from "../../lib/pool-error.js";
import { clusterProblems, type ClusterProblem } from "../../lib/dashboard/cluster-problems.js";
import { formatProblems, judgeHealth } from "../problems-report.js";

interface StatusOptions {
  json?: boolean;
  watch?: number;
  wait: number;
}

function render(status: ClusterStatus, json: boolean): string {
  if (json) return `${JSON.stringify(status)}\n`;
  return `${formatJobServerTable(status.jobServers)}\n\n${formatPingTable(status.nodes)}\n${formatProblems(status.problems)}`;
}

/** Clears the terminal and moves to its top left, as watch(1) does. */
const CLEAR = "\x1b[H\x1b[2J";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("show every job server's queues per function (gearmand too) and the worker nodes' ping table")
    .option("--json", "print the status as JSON (with --watch: one document per line)")
    .option("--watch <seconds>", "refresh every SECONDS until Ctrl-C", positiveSeconds("--watch"))
    .option(
      "--wait <seconds>",
      "how long to wait for the nodes' ping replies (less once every registered node answered)",
      positiveSeconds("--wait"),
      2,
    )
    .action(async (options: StatusOptions, command: Command) => {
      const config = clusterConfig(command);
      const servers = config.client.jobServers;
      const tls = config.client.jobServerTls;
      await withControl(
        command,
        async (control) => {
          const { JobServerWatch } = await import("../../lib/dashboard/job-server-watch.js");
          const jobServers = new JobServerWatch(servers, tls, undefined, (server) => control.nodes.admin(server));
          try {
            return await show(control, jobServers, options);
          } finally {
            await jobServers.close();
          }
        },
        options.watch === undefined,
        judgeHealth,
      );
    });
}

/**
 * Once, or every --watch seconds until Ctrl-C (asking the job servers over the same admin connections each time).
 * Resolves with the problems of the last status shown.
 */
async function show(
  control: ClusterControl,
  jobServers: JobServerWatch,
  options: StatusOptions,
): Promise<readonly ClusterProblem[]> {
  const take = async (): Promise<ClusterStatus> => {
    try {
      return await clusterStatus(control, jobServers, options.wait * 1000);
    } catch (error) {
      // No channel to ask the nodes on: the job servers' table still says something; the stderr lines say the rest.
      if (!(error instanceof PoolError && error.code === "CHANNEL_UNREACHABLE")) throw error;
      const servers = await jobServers.status();
      return { time: Date.now(), jobServers: servers, nodes: [], problems: clusterProblems(undefined, servers) };
    }
  };
  if (options.watch === undefined) {
    const status = await take();
    process.stdout.write(render(status, Boolean(options.json)));
    return status.problems;
  }
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => stop.abort());
  // Redrawn in place on a terminal; into a pipe or a file, plain tables one after another.
  const redraw = process.stdout.isTTY === true;
  let first = true;
  while (!stop.signal.aborted) {
    const began = Date.now();
    const status = await take();
    if (stop.signal.aborted) break;
    const heading = `glimpse-cluster status, every ${options.watch} s (Ctrl-C to stop): ${new Date(status.time).toISOString()}`;
    process.stdout.write(
      options.json
        ? render(status, true)
        : `${redraw ? CLEAR : first ? "" : "\n"}${heading}\n\n${render(status, false)}`,
    );
    if (first) {
      first = false;
      reportReach(await control.reach());
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, options.watch! * 1000 - (Date.now() - began)));
      stop.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  return [];
}
