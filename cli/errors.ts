/**
 * Every error the glimpse-cluster command raises of its own. Each carries a
 * stable `code`. main.ts exits 2 on a usage error (and on ConfigError and
 * ArgumentError), 1 on anything else; a CliError's message is printed
 * without its stack (for UNREACHABLE, what could not be reached was said
 * already).
 */

export type CliErrorCode =
  | "USAGE" // a bad command line
  | "DEMO_RESULT" // the demo's map gave a result other than the one it knows
  | "UNREACHABLE" // a cluster command reached no job server, or no channel endpoint
  | "NODES"; // drain or online: the selector matched no live node, or a selected node did not acknowledge

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

/** A drain or online that could not be carried out (the PoolError saying why is its cause). */
export const nodesNotReached = (cause: Error): CliError =>
  Object.assign(new CliError("NODES", cause.message), { cause });
