/**
 * Every error the glimpse-cluster command raises of its own. Each carries a
 * stable `code`. main.ts exits 2 on a usage error (and on ConfigError and
 * ArgumentError), 130 (128 + the signal's number) on INTERRUPTED, 3 on
 * DEGRADED, 1 on anything else; a CliError's message is printed without its stack,
 * prefixed with the command it concerns when it names one, and not at all
 * when it is empty (what went wrong was said already).
 */
import os from "node:os";

export type CliErrorCode =
  | "USAGE" // a bad command line
  | "DEMO_RESULT" // the demo's map gave a result other than the one it knows
  | "UNREACHABLE" // a cluster command reached no job server, or not the channel endpoints it needs
  | "DEGRADED" // ping-workers or status looked, and found a job server it could not reach or a problem (exit status 3)
  | "NODES" // drain or online: the selector matched no live node, or a selected node did not acknowledge
  | "LISTEN" // a command could not listen on its address (a port in use, an address not of this machine)
  | "INTERRUPTED"; // a command stopped by a signal before it finished (Ctrl-C)

export class CliError extends Error {
  override name = "CliError";
  constructor(
    readonly code: CliErrorCode,
    message: string,
    /** The command the message is about: printed as `glimpse-cluster COMMAND: message`. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A bad command line: the CLI prints the message and exits with status 2. */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string, command?: string) {
    super("USAGE", message, command);
  }
}

export const wrongDemoResult = (what: string, got: unknown, expected: unknown): CliError =>
  new CliError("DEMO_RESULT", `demo: ${what} gave ${String(got)}, expected ${String(expected)}`);

export const clusterUnreachable = (what: string): CliError => new CliError("UNREACHABLE", `could not reach ${what}`);

/** What could not be reached was written line by line already: nothing more to print. */
export const unreachableSaid = (): CliError => new CliError("UNREACHABLE", "");

/**
 * ping-workers or status did its work and found the cluster degraded: a job
 * server it could not reach, or a problem (each said on its own line already).
 */
export const degradedSaid = (): CliError => new CliError("DEGRADED", "");

/** A drain or online that could not be carried out (the PoolError saying why is its cause). */
export const nodesNotReached = (cause: Error): CliError =>
  Object.assign(new CliError("NODES", cause.message), { cause });

/**
 * `command` could not listen on `address` (host:port, or a ZeroMQ endpoint):
 * `cannot listen on ADDRESS: address already in use (EADDRINUSE)`; `doing`
 * names what the address is for when it is not the command's own ("serve metrics").
 */
export const cannotListen = (command: string, address: string, cause: unknown, doing = "listen"): CliError =>
  Object.assign(new CliError("LISTEN", `cannot ${doing} on ${address}: ${errnoReason(cause)}`, command), { cause });

/** A command stopped by `signal`; the line saying so was written when it came. */
export const interrupted = (signal: NodeJS.Signals): CliError =>
  Object.assign(new CliError("INTERRUPTED", ""), { signal });

/** The exit status of a command stopped by `signal`, as shells report it: 128 + its number (SIGINT: 130). */
export const signalExitCode = (signal: NodeJS.Signals): number => 128 + (os.constants.signals[signal] ?? 2);

/**
 * A system error's reason once, without the address the caller names
 * already: Node's "listen EADDRINUSE: address already in use 127.0.0.1:4730"
 * (also as text relayed from a thread) and ZeroMQ's "Address already in
 * use" (code EADDRINUSE) both become "address already in use (EADDRINUSE)".
 * Other errors keep their message.
 */
export function errnoReason(error: unknown): string {
  const e = error as { message?: unknown; code?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(error);
  const node = /^(?:\w+ )?(E[A-Z]+): (.*)$/.exec(message);
  const code = typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code) ? e.code : node?.[1];
  if (code === undefined) return message;
  // Node ends the text with the address it could not use: a host:port, [v6]:port or a socket path.
  const text = (node ? node[2] : message).replace(/ (\S+:\d+|\/\S*)$/, "");
  return text === "" ? code : `${text[0].toLowerCase()}${text.slice(1)} (${code})`;
}
