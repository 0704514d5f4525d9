/**
 * `glimpse-cluster dashboard [--port 8787] [--host H] [--allow-control]`: the
 * live web page of the cluster in the config, until Ctrl-C. Prints one line
 * to stdout once it serves: `glimpse-cluster dashboard on URL`; a port in use
 * exits 1 naming the address.
 */
import type { Command } from "commander";

import { controlOptions } from "../../lib/config/channel-options.js";
import type { Dashboard } from "../../lib/dashboard/dashboard-server.js";
import { clusterConfig } from "../cluster-config.js";
import { wholeNumber } from "../arguments.js";
import { unreachedLines } from "../reach-report.js";
import { cannotListen } from "../errors.js";
import { ArgumentError } from "../../lib/argument-error.js";
import { namingFlags } from "../option-flags.js";

/** The options each flag fills, so that one the dashboard refuses is named by its flag. */
const FLAGS = { dashboard: { port: "--port", host: "--host" } };

/** When the dashboard says on stderr what it could not reach (it keeps running: the page shows it too). */
const REACH_PROBE_MS = 2000;

export function registerDashboard(program: Command): void {
  program
    .command("dashboard")
    .description(
      "serve a live web page of the cluster: job servers' queues, worker nodes, maps in flight, throughput, the log channel",
    )
    .option("--port <port>", "TCP port of the page (0 picks a free one)", wholeNumber("--port", 0), 8787)
    .option("--host <host>", "address to listen on (default 127.0.0.1: this machine only)", "127.0.0.1")
    .option("--allow-control", "offer restart and quit on each node row (with a confirmation); read-only without it")
    .action(
      namingFlags(FLAGS, async (options: { port: number; host: string; allowControl?: boolean }, command: Command) => {
        const config = clusterConfig(command);
        const [{ ClusterControl }, { Dashboard }] = await Promise.all([
          import("../../lib/control/cluster-control.js"),
          import("../../lib/dashboard/dashboard-server.js"),
        ]);
        const channels = controlOptions(config.client);
        if (channels.commandBind || channels.logBind) {
          process.stderr.write(
            "glimpse-cluster dashboard: direct mode (no broker): the dashboard binds the channels itself, so it shows the nodes but no other process's maps, and a pool cannot bind them while it runs; use a broker (launch-broker) to watch pools too\n",
          );
        }
        const control = await ClusterControl.open({ ...channels, watchProgress: true });
        let dashboard: Dashboard;
        try {
          dashboard = await Dashboard.start(control, {
            port: options.port,
            host: options.host,
            allowControl: Boolean(options.allowControl),
            jobServers: config.client.jobServers,
            tls: config.client.jobServerTls,
            signed: config.client.secret !== undefined,
          });
        } catch (error) {
          await control.close();
          if (error instanceof ArgumentError) throw error;
          throw cannotListen("dashboard", `${options.host}:${options.port}`, error);
        }
        process.stdout.write(`glimpse-cluster dashboard on ${dashboard.url}\n`);
        const probe = setTimeout(() => {
          void control.reach().then((reach) => {
            for (const line of unreachedLines(reach)) process.stderr.write(`glimpse-cluster dashboard: ${line}\n`);
          });
        }, REACH_PROBE_MS);
        await new Promise<void>((resolve) => {
          for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => resolve());
        });
        clearTimeout(probe);
        await dashboard.close();
        await control.close();
      }),
    );
}
