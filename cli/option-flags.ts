/**
 * A command's flags and the library options they fill, so that an option the
 * library refuses is named as the user typed it. The library says
 * `JobServer option port: expected a whole number from 0 to 65535, got 70000`
 * (an ArgumentError with `owner` and `option`); the command line says
 * `--port: expected a whole number from 0 to 65535, got 70000` and exits 2,
 * as for any other bad command line.
 *
 *   .action(namingFlags({ JobServer: { port: "--port" }, metrics: { port: "--metrics-port" } }, async (...) => ...))
 *
 * An option is named by its flag only when the flag gave its value (typed,
 * or the flag's default). A value read from the configuration file instead is
 * named by its file and key when the command says which key fills the option
 * (`configKeys`): `/etc/glimpse/cluster.ini [server] exclusive: ...`, a
 * ConfigError; else it keeps the library's message, which names the option. A
 * positional argument is named without dashes (`num_processes`).
 */
import type { Command } from "commander";
import { ArgumentError } from "../lib/argument-error.js";
import { UsageError } from "./errors.js";
import { ConfigError } from "../lib/config/errors.js";
import type { Section } from "../lib/config/keys.js";
import { clusterConfig } from "./cluster-config.js";

/** Owner (as the library's errors name it) → option key path → the flag (or argument) that fills it. */
export type FlagTable = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** The usage error naming the flag for an ArgumentError about one of the table's options; any other error as it is. */
export function namedByFlag(error: unknown, flags: FlagTable, command: Command): unknown {
  if (!(error instanceof ArgumentError) || error.owner === undefined || error.option === undefined) return error;
  const flag = flags[error.owner]?.[error.option];
  if (flag === undefined || !givenOnCommandLine(command, flag)) return error;
  return Object.assign(new UsageError(`${flag}: ${error.problem}`), { cause: error });
}

/** Owner → option key path → the configuration key (section, ini name) that fills it when its flag is not given. */
export type ConfigKeyTable = Readonly<Record<string, Readonly<Record<string, readonly [Section, string]>>>>;

/** A ConfigError naming the file and key that gave the option an ArgumentError is about, when the table names its key and a file set it. */
export function namedByConfigKey(error: unknown, keys: ConfigKeyTable, origins: ReadonlyMap<string, string>): unknown {
  if (!(error instanceof ArgumentError) || error.owner === undefined || error.option === undefined) return error;
  const key = keys[error.owner]?.[error.option];
  const file = key && origins.get(`${key[0]}.${key[1]}`);
  if (key === undefined || file === undefined) return error;
  return Object.assign(new ConfigError(error.problem, file, key[0], key[1]), { cause: error });
}

/**
 * `action`, whose ArgumentErrors about the table's options become usage errors naming the flags (the command is
 * its last argument), or, for an option a configuration key filled (`configKeys`), ConfigErrors naming its file and key.
 */
export function namingFlags<A extends unknown[]>(
  flags: FlagTable,
  action: (...args: A) => void | Promise<void>,
  configKeys?: ConfigKeyTable,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (error) {
      const command = args.at(-1) as Command;
      const named = namedByFlag(error, flags, command);
      if (named !== error || configKeys === undefined || !(error instanceof ArgumentError)) throw named;
      throw namedByConfigKey(error, configKeys, clusterConfig(command, { jobServers: false }).origins);
    }
  };
}

function givenOnCommandLine(command: Command, flag: string): boolean {
  if (!flag.startsWith("-")) {
    const index = command.registeredArguments.findIndex((argument) => argument.name() === flag);
    return index >= 0 && command.processedArgs[index] !== undefined;
  }
  const option = command.options.find((o) => o.long === flag || o.short === flag);
  return option !== undefined && command.getOptionValueSource(option.attributeName()) !== undefined;
}
