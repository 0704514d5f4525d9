/** Dashboard options, validated once into a filled, frozen form. */
import { ArgumentError, wholeNumber } from "../argument-error.js";
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

export type FilledDashboardOptions = Readonly<Required<Omit<DashboardOptions, "tls">>> & {
  readonly tls: GearmanTlsOptions | undefined;
};

const KNOWN = ["port", "host", "allowControl", "jobServers", "tls", "signed", "intervalMs"];
const option = (name: string) => `dashboard option ${name}`;

function flag(name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean")
    throw new ArgumentError(option(name), `expected true or false, got ${String(value)}`);
  return value === true;
}

export function fillDashboardOptions(options: DashboardOptions): FilledDashboardOptions {
  if (options === null || typeof options !== "object")
    throw new ArgumentError("dashboard options", `expected an object, got ${String(options)}`);
  for (const key of Object.keys(options))
    if (!KNOWN.includes(key)) throw new ArgumentError(option(key), `unknown (known: ${KNOWN.join(", ")})`);
  const host = options.host ?? "127.0.0.1";
  if (typeof host !== "string" || host === "")
    throw new ArgumentError(option("host"), `expected an address such as 127.0.0.1, got ${JSON.stringify(host)}`);
  if (!Array.isArray(options.jobServers) || !options.jobServers.every((s) => typeof s === "string" && s !== ""))
    throw new ArgumentError(option("jobServers"), "expected a list of host:port");
  return Object.freeze({
    port: wholeNumber(option("port"), options.port ?? 8787, 0, 65535),
    host,
    allowControl: flag("allowControl", options.allowControl),
    jobServers: Object.freeze([...options.jobServers]),
    tls: options.tls,
    signed: flag("signed", options.signed),
    intervalMs: wholeNumber(option("intervalMs"), options.intervalMs ?? 1000, 50, 1000),
  });
}
