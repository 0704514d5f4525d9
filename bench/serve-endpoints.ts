/**
 * The serve benches' endpoints, each in processes of their own: PHP's built-in server (`php -S`, 4 workers, which
 * closes every connection after one reply) running bench/serve-endpoint.php, and the Node http server of
 * serve-endpoint.ts (connections kept alive). Both answer with the job's workload.
 */
import { spawn, spawnSync } from "node:child_process";
import { freePort, track, waitForPort } from "./job-servers.js";
import { processTree } from "./proc-stats.js";

export interface RunningEndpoint {
  /** The process; php -S's workers are its children (in its own process group, all stopped with it). */
  readonly pid: number;
  /** Its URI, without a query. */
  readonly url: string;
  readonly command: string;
  stop(): Promise<void>;
}

/** PHP's built-in server workers (PHP_CLI_SERVER_WORKERS): 4, as a small PHP setup runs. */
export const PHP_WORKERS = 4;

/** Why php -S cannot run here, or undefined. */
export const phpSkip: string | undefined = (() => {
  const version = spawnSync("php", ["-v"], { encoding: "utf8" });
  return version.status === 0 ? undefined : "php (the CLI, for php -S) is not installed: apt-get install php-cli";
})();

export async function startPhpEndpoint(script: string): Promise<RunningEndpoint> {
  const port = await freePort();
  const args = ["-q", "-S", `127.0.0.1:${port}`, script];
  // A process group of its own: php -S's workers outlive a parent that is killed, so the group is.
  const child = spawn("php", args, {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, PHP_CLI_SERVER_WORKERS: String(PHP_WORKERS) },
    detached: true,
  });
  const killGroup = () => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // gone already
    }
  };
  process.once("exit", killGroup);
  const stopParent = track(child);
  const stop = async () => {
    killGroup();
    await stopParent();
    process.off("exit", killGroup);
  };
  try {
    await waitForPort(port, child, "php -S");
    // Its workers are forked around the listen: the CPU of all of them is the endpoint's.
    const deadline = Date.now() + 10_000;
    while (processTree(child.pid!).length < PHP_WORKERS + 1) {
      if (Date.now() > deadline) throw new Error(`php -S started fewer than ${PHP_WORKERS} workers in 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: child.pid!,
    url: `http://127.0.0.1:${port}/job.php`,
    command: `PHP_CLI_SERVER_WORKERS=${PHP_WORKERS} php ${args.join(" ")}`,
    stop,
  };
}

export async function startNodeEndpoint(script: string): Promise<RunningEndpoint> {
  const child = spawn(process.execPath, [script, "echo"], { stdio: ["ignore", "pipe", "inherit"] });
  const stop = track(child);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const match = /^(\d+)\n/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.once("exit", (code) => reject(new Error(`the Node endpoint exited (${code}) before it listened`)));
    });
    return { pid: child.pid!, url: `http://127.0.0.1:${port}/job.php`, command: `node ${script} echo`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
