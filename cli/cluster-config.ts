/** The configuration a cluster command works with: the -c files, else GLIMPSE_CLUSTER_CONFIG. */
import type { Command } from "commander";
import { loadConfig, type ClusterConfig } from "../lib/config/index.js";
import { UsageError } from "./errors.js";

export function clusterConfig(command: Command): ClusterConfig {
  const files = (command.optsWithGlobals().config as string[] | undefined) ?? [];
  const config = loadConfig(files.length > 0 ? files : undefined);
  if (config === null) {
    throw new UsageError(
      `${command.name()} needs a configuration: pass -c FILE (see config.ini.example) or set GLIMPSE_CLUSTER_CONFIG`,
    );
  }
  return config;
}
