/** Serve's options, validated once into a filled, frozen form (lib/options-schema.ts). */
import type { FunctionPolicy } from "../node/function-policy.js";
import { REFUSED, Rule, flag, func, optionsSchema, text, whole, type Filled, type RulesOf } from "../options-schema.js";
import { silentLog, type ServeLog } from "./serve-log.js";

export interface ServeOptions {
  /** The jobsconfig file (Driveshaft's JSON). */
  jobsConfig: string;
  /** Seconds a job may run before it is failed, for pools without their own max_running_time (> 0). Default 300. */
  maxRunningTime?: number;
  /** Give up one job server connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Which module pools may run, given the jobsconfig's job servers ("host:port"): the worker nodes'
   * policy ([server] allow_source, allowed_modules; see lib/node/function-policy.ts). Default: every module.
   */
  policy?: (servers: readonly string[]) => FunctionPolicy;
  /** Where log lines go. Default: nowhere. */
  log?: ServeLog;
  /** Reload when the jobsconfig file changes (its directory is watched). Default true. */
  watch?: boolean;
}

const SERVE = optionsSchema("Serve", {
  jobsConfig: text("the path of a jobsconfig file"),
  maxRunningTime: new Rule("a number of seconds > 0", (value) =>
    typeof value === "number" && Number.isFinite(value) && value > 0 ? value : REFUSED,
  ).default(300),
  connectTimeoutMs: whole(1).default(5000),
  policy: func<(servers: readonly string[]) => FunctionPolicy>().optional(),
  log: func<ServeLog>().default(silentLog),
  watch: flag().default(true),
} satisfies RulesOf<ServeOptions>);

export type FilledServeOptions = Filled<typeof SERVE.rules>;

export function fillServeOptions(options: ServeOptions): FilledServeOptions {
  return SERVE.fill(options);
}
