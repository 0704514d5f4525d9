/**
 * `glimpse-cluster launch-worker [N]`: runs one worker node of N threads,
 * configured by the [client] section (job servers, channels, secret, keys)
 * and the [server] section (prefetch, labels, exclusive, allow_source, allowed_modules), under a
 * NodeSupervisor that restarts it after `restart` or a crash, until
 * `kill-workers` or SIGTERM / SIGINT. The supervisor checks the node's
 * options before starting its process: a bad one exits 2 naming it. A
 * metrics port in use exits 1 naming the address, before the node starts.
 */
import type { Command } from "commander";
import os from "node:os";
import { clusterConfig } from "../cluster-config.js";
import { curveKeysOf } from "../../lib/config/channel-options.js";
import { positiveSeconds, wholeNumber } from "../arguments.js";
import type { MetricsEndpoint } from "../../lib/metrics/metrics-endpoint.js";
import { ArgumentError } from "../../lib/argument-error.js";
import { cannotListen } from "../errors.js";
import { splitLabels } from "../../lib/wire/labels.js";
import { namingFlags } from "../option-flags.js";

/** The options each flag fills, so that one the node refuses is named by its flag (not when [server] gave it). */
const FLAGS = {
  "worker node": {
    threads: "num_processes",
    prefetch: "--prefetch",
    labels: "--label",
    exclusive: "--exclusive",
    maxChunks: "--max-chunks",
  },
  metrics: { port: "--metrics-port", host: "--metrics-host" },
};

/** The [server] keys that fill the node's options when no flag does, so that one the node refuses names its file and key. */
const CONFIG_KEYS = {
  "worker node": {
    prefetch: ["server", "prefetch"],
    labels: ["server", "labels"],
    exclusive: ["server", "exclusive"],
    allowSource: ["server", "allow_source"],
    allowedModules: ["server", "allowed_modules"],
  },
} as const;

interface LaunchOptions {
  grace: number;
  memoryLimit?: number;
  prefetch?: number;
  label?: string[];
  exclusive?: boolean;
  maxChunks?: number;
  exitWhenDone?: boolean;
  metricsPort?: number;
  metricsHost?: string;
}

export function registerLaunchWorker(program: Command): void {
  program
    .command("launch-worker")
    .alias("LaunchWorker")
    .description(
      "run a worker node: take glimpse_map chunks from the job servers and run them on a local thread pool, restarting the node after `restart` or a crash",
    )
    .argument(
      "[num_processes]",
      "threads in the node's pool (chunks run at once); default: the machine's cores",
      wholeNumber("num_processes", 1),
    )
    .option(
      "--grace <seconds>",
      "on SIGTERM, how long running chunks may take to finish",
      positiveSeconds("--grace"),
      30,
    )
    .option("--memory-limit <mb>", "heap limit of each worker thread, in MB", wholeNumber("--memory-limit", 16))
    .option(
      "--prefetch <n>",
      "chunks each thread holds waiting behind the one it runs (0 for long chunks over many nodes); default: [server] prefetch, 1",
      wholeNumber("--prefetch", 0),
    )
    .option(
      "--metrics-port <port>",
      "serve the node's Prometheus metrics on GET /metrics at this port (0 picks a free one); off by default",
      wholeNumber("--metrics-port", 0),
    )
    .option("--metrics-host <host>", "address of the metrics port (default 127.0.0.1)")
    .option(
      "--label <names>",
      "a label of this node (repeatable, or gpu,bigmem): it also serves maps given that label; default: [server] labels",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("--exclusive", "serve only maps with one of this node's labels; default: [server] exclusive")
    .option(
      "--max-chunks <n>",
      "drain the node after it took this many chunks (single-use nodes)",
      wholeNumber("--max-chunks", 1),
    )
    .option(
      "--exit-when-done",
      "exit 0 once the node is drained (by --max-chunks or a drain command) instead of staying up",
    )
    .action(
      namingFlags(
        FLAGS,
        async (threads: number | undefined, options: LaunchOptions, command: Command) => {
          const config = clusterConfig(command);
          const { NodeSupervisor } = await import("../../lib/node/node-supervisor.js");
          const supervisor = new NodeSupervisor(
            {
              jobServers: config.client.jobServers,
              commandUrl: config.client.commandBackendUrl,
              logUrl: config.client.logFrontendUrl,
              threads: threads ?? os.availableParallelism(),
              prefetch: options.prefetch ?? config.server.prefetch,
              graceMs: options.grace * 1000,
              resourceLimits: options.memoryLimit ? { maxOldGenerationSizeMb: options.memoryLimit } : undefined,
              secret: config.client.secret,
              signatureMaxAgeMs: config.client.signatureMaxAgeMs,
              allowSource: config.server.allowSource,
              allowedModules: config.server.allowedModules,
              curve: curveKeysOf(config.client),
              tls: config.client.jobServerTls,
              maxPacketSize: config.client.maxPacketSize,
              labels: options.label ? splitLabels(options.label) : config.server.labels,
              exclusive: options.exclusive ?? config.server.exclusive,
              maxChunks: options.maxChunks,
              exitWhenDone: options.exitWhenDone ?? false,
            },
            { metrics: options.metricsPort !== undefined },
          );
          let metrics: MetricsEndpoint | undefined;
          if (options.metricsPort !== undefined) {
            const host = options.metricsHost ?? "127.0.0.1";
            try {
              const [{ SupervisorMetrics }, { serveMetrics }] = await Promise.all([
                import("../../lib/node/supervisor-metrics.js"),
                import("../../lib/metrics/metrics-endpoint.js"),
              ]);
              metrics = await serveMetrics(new SupervisorMetrics(supervisor), { port: options.metricsPort, host });
            } catch (error) {
              if (error instanceof ArgumentError) throw error;
              throw cannotListen("launch-worker", `${host}:${options.metricsPort}`, error, "serve metrics");
            }
          }
          for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void supervisor.stop());
          if (metrics) process.stdout.write(`glimpse-cluster launch-worker metrics on ${metrics.url}\n`);
          try {
            await supervisor.start();
            await supervisor.whenDone();
          } finally {
            await metrics?.close();
          }
        },
        CONFIG_KEYS,
      ),
    );
}
