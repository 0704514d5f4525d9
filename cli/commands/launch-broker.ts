/**
 * `glimpse-cluster launch-broker`: runs the broker on the [server] section's
 * four URLs (with the [client] CURVE keys, if any) until SIGTERM / SIGINT.
 * Prints one line once it is bound; a peer turned away by CURVE is named on stderr.
 * An address it cannot bind (in use) exits 1 naming it.
 */
import type { Command } from "commander";
import { cannotListen } from "../errors.js";
import { clusterConfig } from "../cluster-config.js";
import { brokerUrlsOf, curveOf } from "../../lib/config/channel-options.js";

export function registerLaunchBroker(program: Command): void {
  program
    .command("launch-broker")
    .alias("LaunchBroker")
    .description(
      "run the broker: forward the command channel (clients -> workers) and the log channel (workers -> clients), bound on the [server] URLs",
    )
    .action(async (_options: unknown, command: Command) => {
      const { server, client } = clusterConfig(command, { jobServers: false });
      const { Broker, ChannelError } = await import("../../lib/channels/index.js");
      const curve = curveOf(client);
      const broker = new Broker(brokerUrlsOf(server), {
        curve: curve && {
          ...curve,
          onRefused: (address) =>
            process.stderr.write(
              `glimpse-cluster broker: refused a connection from ${address}: it does not hold the cluster's CURVE key\n`,
            ),
        },
      });
      let urls;
      try {
        urls = await broker.start();
      } catch (error) {
        if (error instanceof ChannelError && error.code === "BIND")
          throw cannotListen("launch-broker", error.endpoint ?? "", error.cause);
        throw error;
      }
      process.stdout.write(
        `glimpse-cluster broker listening: commands ${urls.commandFrontendUrl} -> ${urls.commandBackendUrl}, logs ${urls.logFrontendUrl} -> ${urls.logBackendUrl}${curve ? " (CURVE)" : ""}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
      });
      await broker.close();
    });
}
