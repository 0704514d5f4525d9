/**
 * Every error the glimpse-cluster command raises of its own. Each carries a
 * stable `code`. main.ts exits 2 on a usage error (and on ConfigError and
 * ArgumentError), 1 on anything else (an UNREACHABLE one prints its message
 * alone: what could not be reached was said already).
 */

export type CliErrorCode =
  | "USAGE" // a bad command line
  | "DEMO_RESULT" // the demo's map gave a result other than the one it knows
  | "UNREACHABLE"; // a cluster command reached no job server, or no channel endpoint

export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A bad command line: the CLI prints the message and exits with status 2. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super("USAGE", message);
  }
}

export const wrongDemoResult = (what: string, got: unknown, expected: unknown): CliError =>
  new CliError("DEMO_RESULT", `demo: ${what} gave ${String(got)}, expected ${String(expected)}`);

export const clusterUnreachable = (what: string): CliError => new CliError("UNREACHABLE", `could not reach ${what}`);
