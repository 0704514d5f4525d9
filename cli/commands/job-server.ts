/**
 * `glimpse-cluster job-server`: runs the embedded Gearman job server until
 * SIGTERM / SIGINT (graceful: running jobs finish; a second signal stops at
 * once) or an admin `shutdown`. Prints one line to stdout once it accepts
 * connections, `glimpse-cluster job-server listening on HOST:PORT`, and with
 * --metrics-port a second: `glimpse-cluster job-server metrics on URL`.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { MetricsEndpoint } from "../../lib/metrics/metrics-endpoint.js";
import { ArgumentError } from "../../lib/argument-error.js";
import { positiveSeconds, wholeNumber } from "../arguments.js";
import { UsageError, cannotListen } from "../errors.js";
import { namingFlags } from "../option-flags.js";

interface JobServerCliOptions {
  host: string;
  port: number;
  jobRetries: number;
  queueFile?: string;
  queueFsync?: boolean;
  maxPacket?: number;
  maxConnections?: number;
  maxQueue?: number;
  handlePrefix?: string;
  grace: number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  metricsPort?: number;
  metricsHost?: string;
}

/** The options each flag fills, so that one the server refuses is named by its flag. */
const FLAGS = {
  JobServer: {
    host: "--host",
    port: "--port",
    jobRetries: "--job-retries",
    queueFile: "--queue-file",
    maxPacketSize: "--max-packet",
    maxConnections: "--max-connections",
    maxQueue: "--max-queue",
    handlePrefix: "--handle-prefix",
  },
  metrics: { port: "--metrics-port", host: "--metrics-host" },
};

export function registerJobServer(program: Command): void {
  program
    .command("job-server")
    .description("run the embedded Gearman job server (binary and admin protocols on one port, like gearmand)")
    .option(
      "--host <host>",
      "address to listen on (loopback by default: nothing outside this machine can reach it)",
      "127.0.0.1",
    )
    .option("--port <port>", "TCP port; 0 picks a free one", wholeNumber("--port", 0), 4730)
    .option(
      "--job-retries <n>",
      "times a job whose worker was lost is handed out again before clients get WORK_FAIL; 0 = no limit (as gearmand -j)",
      wholeNumber("--job-retries", 0),
      0,
    )
    .option("--queue-file <path>", "journal that keeps accepted background jobs across a restart or a crash")
    .option("--queue-fsync", "fdatasync the journal before answering (survives power loss; one disk flush per batch)")
    .option("--max-packet <bytes>", "largest packet accepted (default 64 MiB)", wholeNumber("--max-packet", 64))
    .option("--max-connections <n>", "most connections at once (default 10000)", wholeNumber("--max-connections", 1))
    .option(
      "--max-queue <n>",
      "default limit of jobs per function, as admin maxqueue (0: none)",
      wholeNumber("--max-queue", 0),
    )
    .option("--handle-prefix <text>", "host part of job handles, H:<text>:<n> (default: the hostname)")
    .option("--tls-cert <file>", "require TLS: the server's certificate (PEM); needs --tls-key")
    .option("--tls-key <file>", "the key of --tls-cert (PEM)")
    .option("--tls-ca <file>", "with TLS, also require client certificates signed by this CA (PEM)")
    .option(
      "--metrics-port <port>",
      "serve Prometheus metrics on GET /metrics at this port (0 picks a free one); off by default",
      wholeNumber("--metrics-port", 0),
    )
    .option("--metrics-host <host>", "address of the metrics port (default 127.0.0.1)")
    .option(
      "--grace <seconds>",
      "on SIGTERM/SIGINT, how long running jobs may take to finish",
      positiveSeconds("--grace"),
      30,
    )
    .action(
      namingFlags(FLAGS, async (options: JobServerCliOptions, command: Command) => {
        const verbose = Boolean(command.optsWithGlobals().verbose);
        const tls = readTls(options);
        const { JobServer } = await import("../../lib/server/job-server.js");
        // A bad option is an ArgumentError naming it; namingFlags names its flag instead (exit 2).
        const server = new JobServer({
          host: options.host,
          port: options.port,
          jobRetries: options.jobRetries,
          queueFile: options.queueFile,
          queueFsync: options.queueFsync,
          maxPacketSize: options.maxPacket,
          maxConnections: options.maxConnections,
          maxQueue: options.maxQueue,
          handlePrefix: options.handlePrefix,
          tls,
          log: verbose ? (line) => process.stderr.write(`job-server: ${line}\n`) : undefined,
        });
        let address;
        try {
          address = await server.listen();
        } catch (error) {
          throw cannotListen("job-server", `${options.host}:${options.port}`, error);
        }
        let metrics: MetricsEndpoint | undefined;
        if (options.metricsPort !== undefined || options.metricsHost !== undefined) {
          const port = options.metricsPort ?? 9464;
          const host = options.metricsHost ?? "127.0.0.1";
          try {
            const { serveJobServerMetrics } = await import("../../lib/server/metrics-thread.js");
            metrics = await serveJobServerMetrics(server, { port, host });
          } catch (error) {
            await server.close();
            if (error instanceof ArgumentError) throw error;
            throw cannotListen("job-server", `${host}:${port}`, error, "serve metrics");
          }
        }
        process.stdout.write(
          `glimpse-cluster job-server listening on ${address.host}:${address.port}${tls ? " (TLS)" : ""}\n`,
        );
        if (metrics) process.stdout.write(`glimpse-cluster job-server metrics on ${metrics.url}\n`);
        await new Promise<void>((resolve) => {
          let signalled = false;
          const stop = () => {
            if (signalled) return void server.close().then(resolve); // second signal: now
            signalled = true;
            void server.close({ graceful: true, graceMs: options.grace * 1000 }).then(resolve);
          };
          process.on("SIGTERM", stop);
          process.on("SIGINT", stop);
          server.once("shutdown", resolve);
        });
        await metrics?.close();
      }),
    );
}

function readTls(options: JobServerCliOptions): { cert: string; key: string; ca?: string } | undefined {
  if (!options.tlsCert && !options.tlsKey && !options.tlsCa) return undefined;
  if (!options.tlsCert || !options.tlsKey)
    throw new UsageError("--tls-cert and --tls-key go together (and --tls-ca needs both)");
  const read = (flag: string, file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new UsageError(`${flag} ${file}: ${(error as Error).message}`);
    }
  };
  return {
    cert: read("--tls-cert", options.tlsCert),
    key: read("--tls-key", options.tlsKey),
    ca: options.tlsCa && read("--tls-ca", options.tlsCa),
  };
}
