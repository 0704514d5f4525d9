/**
 * Every error the serve layer raises besides bad arguments (ArgumentError).
 * Each carries a stable `code`; the CLI exits 2 on JOBS_CONFIG.
 */

export type ServeErrorCode =
  | "JOBS_CONFIG" // the jobsconfig file is unreadable, not JSON, or a key is wrong: names the file, pool and key
  | "BAD_REPLY" // an HTTP endpoint's reply does not complete the job (status, body, JSON, types, connection)
  | "TIMED_OUT" // a job ran past max_running_time
  | "STOPPED"; // serve stopped at once (second signal) while the job ran

export class ServeError extends Error {
  override name = "ServeError";
  constructor(
    readonly code: ServeErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A jobsconfig problem: `where` is `pool "NAME" key "KEY"`, or a top-level key, or empty for the file as a whole. */
export class JobsConfigError extends ServeError {
  override name = "JobsConfigError";
  constructor(
    readonly file: string,
    readonly pool: string | undefined,
    readonly key: string | undefined,
    problem: string,
  ) {
    const where = [
      pool === undefined ? "" : `pool ${JSON.stringify(pool)}`,
      key === undefined ? "" : `key ${JSON.stringify(key)}`,
    ]
      .filter(Boolean)
      .join(" ");
    super("JOBS_CONFIG", `jobsconfig ${file}${where ? `: ${where}` : ""}: ${problem}`);
  }
}

export const badReply = (reason: string): ServeError => new ServeError("BAD_REPLY", reason);

export const timedOut = (seconds: number): ServeError =>
  new ServeError("TIMED_OUT", `ran past max_running_time (${seconds} s)`);

export const stoppedAtOnce = (): ServeError =>
  new ServeError("STOPPED", "serve was stopped at once (second signal) while the job ran");
