/**
 * MakePool as the package exports it: the pool's MakePool, plus the
 * `dashboard` option, which opens the dashboard on the pool's own channels
 * for the pool's lifetime (closed by pool.close()).
 */
import { MakePool as makePool, type MakePoolOptions as PoolOptions } from "../pool/make-pool.js";
import type { ClusterPool } from "../pool/cluster-pool.js";
import type { ConfigInput } from "../config/load-config.js";
import { ArgumentError } from "../argument-error.js";
import { Dashboard } from "./dashboard-server.js";

export interface MakePoolOptions extends PoolOptions {
  /**
   * Open the dashboard on this pool's cluster while the pool lives: true (a
   * free port), a port number, or { port, host, allowControl }. Its URL is
   * pool.dashboardUrl, and is printed to stderr. Default: none.
   */
  dashboard?: boolean | number | { port?: number; host?: string; allowControl?: boolean };
}

function dashboardSettings(
  value: MakePoolOptions["dashboard"],
): { port?: number; host?: string; allowControl?: boolean } | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { port: 0 };
  if (typeof value === "number") return { port: value };
  if (value === null || typeof value !== "object")
    throw new ArgumentError(
      "MakePool option dashboard",
      `expected true, a port or { port, host, allowControl }, got ${String(value)}`,
    );
  return { port: 0, ...value };
}

export async function MakePool(
  config?: string | readonly string[] | ConfigInput,
  options: MakePoolOptions = {},
): Promise<ClusterPool> {
  if (options === null || typeof options !== "object")
    throw new ArgumentError("MakePool options", `expected an object, got ${String(options)}`);
  const { dashboard, ...rest } = options;
  const settings = dashboardSettings(dashboard);
  const pool = await makePool(config, rest);
  if (settings === undefined) return pool;
  try {
    const { jobServers, tls, signed } = pool.channels.cluster;
    const opened = await Dashboard.start(pool.channels, { ...settings, jobServers, tls, signed });
    pool.dashboardUrl = opened.url;
    pool.closeFirst(() => opened.close());
    process.stderr.write(`glimpse-cluster dashboard on ${opened.url}\n`);
    return pool;
  } catch (error) {
    await pool.close();
    throw error;
  }
}
