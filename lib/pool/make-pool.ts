/**
 * MakePool: a ClusterPool from a config file, a config object, or nothing.
 *
 *   MakePool("config.ini") ─► loadConfig ─► GearmanClient(job_server_url) + ClusterControl(channel URLs) ─► ClusterPool
 *   MakePool()             ─► GLIMPSE_CLUSTER_CONFIG if set, else a LocalCluster (embedded job server,
 *                             worker node processes, direct channels, all in a private directory) ─► ClusterPool that owns it
 */
import { GearmanClient } from "../gearman/client.js";
import { loadConfig, type ConfigInput, type ClientConfig } from "../config/load-config.js";
import { ClusterPool } from "./cluster-pool.js";
import { ClusterControl, type ControlOptions } from "./cluster-control.js";
import { LocalCluster, type LocalClusterOptions } from "./local-cluster.js";
import { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";
import { ArgumentError } from "../argument-error.js";
import type { StreamOpener } from "../gearman/transport.js";

export interface MakePoolOptions {
  /** For a local cluster (no configuration): its settings (worker nodes, threads). */
  local?: LocalClusterOptions;
  /**
   * For a configured cluster: opens the pool's byte stream to a job server
   * itself, as GearmanClient's `open` does; e.g. `() => server.connectInProcess()`
   * for a JobServer in this process. Default: TCP (or TLS) to each job_server_url.
   */
  open?: StreamOpener;
}

const MAKE_POOL_OPTIONS = ["local", "open"];

/**
 * A pool on the cluster a config describes (files, or an object), or with
 * nothing to load on a local cluster of its own. A bad config is a
 * ConfigError naming file, section and key; a bad option an ArgumentError.
 */
export async function MakePool(
  config?: string | readonly string[] | ConfigInput,
  options: MakePoolOptions = {},
): Promise<ClusterPool> {
  if (options === null || typeof options !== "object")
    throw new ArgumentError("MakePool options", `expected an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!MAKE_POOL_OPTIONS.includes(key))
      throw new ArgumentError(`MakePool option ${key}`, `unknown (known: ${MAKE_POOL_OPTIONS.join(", ")})`);
  }
  if (options.open !== undefined && typeof options.open !== "function")
    throw new ArgumentError("MakePool option open", "expected a function returning a stream, or undefined");
  const loaded = loadConfig(config);
  if (loaded === null) return poolOnLocalCluster(await LocalCluster.start(options.local));
  return makeClientPool(loaded.client, options.open);
}

/** The cluster's CURVE keys from a [client] section, if it has them; refused peers become process warnings. */
export function curveOf(client: ClientConfig): CurveSettings | undefined {
  if (client.curvePublicKey === undefined || client.curveSecretKey === undefined) return undefined;
  return {
    publicKey: client.curvePublicKey,
    secretKey: client.curveSecretKey,
    onRefused: (address) =>
      process.emitWarning(`refused a ZeroMQ connection from ${address}: it does not hold the cluster's CURVE key`, {
        code: "GLIMPSE_REFUSED",
      }),
  };
}

/** The client's side of the channels as a config's [client] section describes it. */
export function controlOptions(client: ClientConfig): ControlOptions {
  return {
    key: client.secret === undefined ? undefined : new ClusterKey(client.secret),
    signatureMaxAgeMs: client.signatureMaxAgeMs,
    curve: curveOf(client),
    tls: client.jobServerTls,
    jobServers: client.jobServers,
    // Direct mode (a channel's frontend and backend are one URL): this client binds it and workers connect.
    commandUrl: client.commandFrontendUrl,
    commandBind: client.commandFrontendUrl === client.commandBackendUrl,
    logUrl: client.logBackendUrl,
    logBind: client.logFrontendUrl === client.logBackendUrl,
    // Through a broker, maps' progress goes where nodes publish their logs, for dashboards to hear.
    progressUrl: client.logFrontendUrl === client.logBackendUrl ? undefined : client.logFrontendUrl,
  };
}

async function makeClientPool(client: ClientConfig, open: StreamOpener | undefined): Promise<ClusterPool> {
  const options = controlOptions(client);
  const key = options.key;
  const control = await ClusterControl.open(options);
  const gearman = new GearmanClient({ servers: client.jobServers, tls: client.jobServerTls, open });
  return new ClusterPool({
    client: gearman,
    control,
    cacheFunctions: client.cacheFunctions,
    defaults: { chunksize: client.chunksize, timeoutMs: client.pollTimeoutMs, retries: client.maxRetries },
    key,
    signatureMaxAgeMs: client.signatureMaxAgeMs,
  });
}

/**
 * A pool that owns a started local cluster: binds the channel ends, starts
 * the cluster's worker nodes on them, and closes the cluster when it closes
 * (or when this fails).
 */
export async function poolOnLocalCluster(cluster: LocalCluster): Promise<ClusterPool> {
  let control: ClusterControl | undefined;
  try {
    const key = cluster.secret === undefined ? undefined : new ClusterKey(cluster.secret);
    const { commandUrl, logUrl } = cluster.channelUrls;
    control = await ClusterControl.open({
      key,
      jobServers: [cluster.jobServer],
      commandUrl,
      commandBind: true,
      logUrl,
      logBind: true,
    });
    await cluster.startWorkers(control.commandEndpoint, control.logEndpoint);
    const gearman = new GearmanClient({ servers: [cluster.jobServer], open: () => cluster.connectInProcess() });
    return new ClusterPool({
      client: gearman,
      control,
      cacheFunctions: false,
      defaults: { chunksize: "auto", timeoutMs: 60_000, retries: 3 },
      release: () => cluster.close(),
      key,
    });
  } catch (error) {
    await control?.close();
    await cluster.close();
    throw error;
  }
}
