/** Dashboard options, validated once into a filled, frozen form (lib/options-schema.ts). */
import { flag, list, optionsSchema, text, whole, type Filled, type RulesOf } from "../options-schema.js";
import { CONNECTION_RULES } from "../gearman/connection-options.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";

export interface DashboardOptions {
  /** TCP port of the web page; 0 picks a free one. Default 8787. */
  port?: number;
  /** Address to listen on. Default 127.0.0.1: the page is for this machine unless you say otherwise. */
  host?: string;
  /** Offer restart and quit on each node row (with a confirmation). Default false: the page only shows. */
  allowControl?: boolean;
  /** The job servers whose queues the page shows (admin `status`, so gearmand too). */
  jobServers: readonly string[];
  /** TLS to those job servers. */
  tls?: GearmanTlsOptions;
  /** The cluster has a secret: say on the page that only signed messages are shown. Default false. */
  signed?: boolean;
  /** How often the page is pushed an update, and the nodes and job servers are asked, in ms. Default 1000. */
  intervalMs?: number;
}

const DASHBOARD = optionsSchema("dashboard", {
  port: whole(0, 65535).default(8787),
  host: text("an address such as 127.0.0.1").default("127.0.0.1"),
  allowControl: flag().default(false),
  jobServers: list(text("host:port"), "a list of host:port"),
  tls: CONNECTION_RULES.tls,
  signed: flag().default(false),
  intervalMs: whole(50, 1000).default(1000),
} satisfies RulesOf<DashboardOptions>);

export type FilledDashboardOptions = Filled<typeof DASHBOARD.rules>;

export function fillDashboardOptions(options: DashboardOptions): FilledDashboardOptions {
  return DASHBOARD.fill(options);
}
