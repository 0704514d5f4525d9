import type { Command } from "commander";
import { JobServer } from "../../lib/server/index.js";
import { wholeNumber } from "../arguments.js";

export function registerJobServer(program: Command): void {
  program
    .command("job-server")
    .description("run the embedded Gearman job server (speaks the binary and admin protocols, like gearmand)")
    .option("--host <host>", "address to listen on (loopback by default: nothing outside this machine can reach it)", "127.0.0.1")
    .option("--port <port>", "TCP port; 0 picks a free one", wholeNumber("--port", 0), 4730)
    .option("--job-retries <n>", "times a job whose worker dropped it is handed out again before clients get WORK_FAIL; 0 = no limit (as gearmand -j)", wholeNumber("--job-retries", 0), 0)
    .option("--queue-file <path>", "journal file that makes background jobs survive a restart or a crash")
    .option("--queue-fsync", "fsync the journal after each background job (survives power loss; slower)")
    .option("--max-packet <bytes>", "largest packet accepted", wholeNumber("--max-packet", 64))
    .option("--max-connections <n>", "most connections at once", wholeNumber("--max-connections", 1))
    .option("--max-queue <n>", "default limit of queued jobs per function (0: none)", wholeNumber("--max-queue", 0))
    .action(async (options: { host: string; port: number; jobRetries: number; queueFile?: string; queueFsync?: boolean; maxPacket?: number; maxConnections?: number; maxQueue?: number }, command: Command) => {
      const verbose = Boolean(command.optsWithGlobals().verbose);
      const server = new JobServer({
        host: options.host,
        port: options.port,
        jobRetries: options.jobRetries,
        queueFile: options.queueFile,
        queueFsync: options.queueFsync,
        maxPacketSize: options.maxPacket,
        maxConnections: options.maxConnections,
        maxQueue: options.maxQueue,
        log: verbose ? (line) => process.stderr.write(`job-server: ${line}\n`) : undefined,
      });
      const { host, port } = await server.listen();
      process.stdout.write(`glimpse-cluster job-server listening on ${host}:${port}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void server.close({ graceful: true, graceMs: 10_000 }).then(resolve);
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
        server.once("shutdown", resolve);
      });
    });
}
