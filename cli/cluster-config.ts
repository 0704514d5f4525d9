/**
 * The configuration a cluster command works with: the -c files, else
 * GLIMPSE_CLUSTER_CONFIG. A command that reaches the job servers (all but
 * launch-broker) needs [client] job_server_url.
 */
import type { Command } from "commander";
import { clientSection, loadConfig, type ClusterConfig } from "../lib/config/index.js";
import { UsageError } from "./errors.js";

export function clusterConfig(command: Command, { jobServers = true } = {}): ClusterConfig {
  const files = (command.optsWithGlobals().config as string[] | undefined) ?? [];
  const config = loadConfig(files.length > 0 ? files : undefined);
  if (config === null) {
    throw new UsageError(
      `${command.name()} needs a configuration: pass -c FILE (see config.ini.example) or set GLIMPSE_CLUSTER_CONFIG`,
    );
  }
  if (jobServers) clientSection(config);
  return config;
}
