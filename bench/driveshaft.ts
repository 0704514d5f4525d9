/**
 * The real Driveshaft (the Gearman worker manager in C++, github.com/keyurdg/driveshaft), as a contender of the serve benches. It is not part of
 * this repository: build it from its source and name the binary in DRIVESHAFT_BIN (docs/benchmarks.md, serve
 * against Driveshaft, says how). Without it, the cases show a skipped row with the reason.
 *
 * It runs as a Driveshaft user would run it, with its required options, and at its strongest: logging at WARN (its
 * INFO level writes two lines per job), its exporter on a free loopback port.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { freePort, track } from "./job-servers.js";

const BIN = process.env.DRIVESHAFT_BIN;

/** Why Driveshaft cannot run here, or undefined when it can. */
export const driveshaftSkip: string | undefined = (() => {
  if (!BIN) return "DRIVESHAFT_BIN is not set (build Driveshaft from its source; docs/benchmarks.md says how)";
  try {
    accessSync(BIN, constants.X_OK);
    return undefined;
  } catch (error) {
    return `DRIVESHAFT_BIN=${BIN} is not an executable file: ${(error as Error).message}`;
  }
})();

export interface RunningDriveshaft {
  readonly pid: number;
  /** The command line, for the case's notes. */
  readonly command: string;
  /** Its Prometheus exporter, "127.0.0.1:PORT". */
  readonly exporter: string;
  /** What it logged (WARN and above). */
  log(): string;
  /** SIGTERM, SIGKILL after 3 s; resolves once it is gone. */
  stop(): Promise<void>;
}

const LOG_CONFIG = (file: string) => `<?xml version="1.0" encoding="UTF-8" ?>
<log4j:configuration xmlns:log4j="http://jakarta.apache.org/log4j/">
  <appender name="File" class="org.apache.log4j.FileAppender">
    <param name="File" value="${file}"/>
    <layout class="org.apache.log4j.PatternLayout"><param name="ConversionPattern" value="[%d] [%p] [%t] %m%n"/></layout>
  </appender>
  <root><priority value="warn"/><appender-ref ref="File"/></root>
</log4j:configuration>
`;

/** Starts DRIVESHAFT_BIN on `jobsConfig`, its log config and log file in `dir`. The caller waits for its workers to register. */
export async function startDriveshaft(jobsConfig: string, dir: string): Promise<RunningDriveshaft> {
  if (driveshaftSkip) throw new Error(driveshaftSkip);
  const logFile = path.join(dir, "driveshaft.log");
  const logConfig = path.join(dir, "driveshaft-log.xml");
  writeFileSync(logConfig, LOG_CONFIG(logFile));
  writeFileSync(logFile, "");
  const exporter = `127.0.0.1:${await freePort()}`;
  const args = [
    "--jobsconfig",
    jobsConfig,
    "--logconfig",
    logConfig,
    "--max_running_time",
    "60",
    "--loop_timeout",
    "5",
    "--exporter_addr",
    exporter,
  ];
  const child = spawn(BIN!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const stop = track(child);
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return {
    pid: child.pid!,
    command: `${BIN} ${args.join(" ")}`,
    exporter,
    log: () => `${stderr}${readFileSync(logFile, "utf8")}`,
    stop,
  };
}

/**
 * Seconds Driveshaft's threads have spent in jobs of `pool` that completed (the sum of its driveshaft_job_duration
 * histogram: from taking the job to the endpoint's reply parsed). Over a span of time, its growth divided by the
 * span is how many requests its threads kept at the endpoint on average, as serve's
 * glimpse_serve_endpoint_request_seconds_total is.
 */
export async function driveshaftJobSeconds(driveshaft: RunningDriveshaft, pool: string): Promise<number> {
  const text = await (await fetch(`http://${driveshaft.exporter}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n"))
    if (line.startsWith("driveshaft_job_duration_sum{") && line.includes(`pool="${pool}"`))
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  return sum;
}
