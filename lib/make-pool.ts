/**
 * MakePool: a ClusterPool from a config file, a config object, or nothing;
 * with the `dashboard` option, the dashboard on the pool's own channels for
 * the pool's lifetime. It builds the pool and the dashboard, so it sits
 * above both.
 *
 *   MakePool("config.ini") ─► loadConfig ─► controlOptions ─► ClusterControl ─┬─► [Dashboard on it] ─► ClusterPool(GearmanClient, control, dashboard)
 *   MakePool()             ─► GLIMPSE_CLUSTER_CONFIG if set, else a LocalCluster │   (closed first by pool.close())
 *                             (embedded job server, worker node processes, direct channels,
 *                             all in a private directory) ─► ClusterControl, its nodes started ─┘   the pool owns the cluster
 */
import { GearmanClient } from "./gearman/client.js";
import { clientSection, loadConfig, type ConfigInput, type ClientConfig } from "./config/load-config.js";
import { controlOptions } from "./config/channel-options.js";
import { ClusterControl } from "./control/cluster-control.js";
import { ClusterPool } from "./pool/cluster-pool.js";
import { LocalCluster, type LocalClusterOptions } from "./pool/local-cluster.js";
import { Dashboard } from "./dashboard/dashboard-server.js";
import { ClusterKey } from "./security/cluster-key.js";
import {
  Rule,
  flag,
  func,
  object,
  oneOf,
  optionsSchema,
  plainObject,
  text,
  whole,
  type RulesOf,
} from "./options-schema.js";
import type { StreamOpener } from "./gearman/transport.js";
import type { OutputOption, WorkerOutput } from "./pool/worker-output.js";

export interface MakePoolOptions {
  /** For a local cluster (no configuration): its settings (worker nodes, threads). */
  local?: LocalClusterOptions;
  /**
   * For a configured cluster: opens the pool's byte stream to a job server
   * itself, as GearmanClient's `open` does; e.g. `() => server.connectInProcess()`
   * for a JobServer in this process. Default: TCP (or TLS) to each job_server_url.
   */
  open?: StreamOpener;
  /**
   * Open the dashboard on this pool's cluster while the pool lives: true (a
   * free port), a port number, or { port, host, allowControl }. Its URL is
   * pool.dashboardUrl, and is printed to stderr. Default: none.
   */
  dashboard?: boolean | number | DashboardSettings;
  /**
   * The largest job or result a job server packet carries, in bytes: a chunk whose items are larger fails
   * before it is sent, naming them. Default: [client] max_packet_size (64 MiB). For a local cluster it
   * sets its job server and worker nodes too; a configured cluster's nodes read max_packet_size.
   */
  maxPacketSize?: number;
  /**
   * The default of every map's `output` option (the functions' console output on the workers): true
   * writes it to this process's stdout and stderr, a function gets each line, false leaves it on the
   * worker nodes. Default: [client] output (true).
   */
  output?: OutputOption;
  /**
   * One line per event a person running the pool wants to know of (a job server it cannot reach, loses
   * or reaches again; each retry of a chunk with its cause): a function taking each line, or true for
   * stderr ("glimpse-cluster pool: ..."). Default: none, as a library should.
   */
  log?: boolean | ((line: string) => void);
}

/** The dashboard option's object form (the rest of the dashboard's options come from the pool's cluster). */
export interface DashboardSettings {
  port?: number;
  host?: string;
  allowControl?: boolean;
}

const port = whole(0, 65535);
const settings = object({
  port: port.default(0),
  host: text("an address such as 127.0.0.1").optional(),
  allowControl: flag().optional(),
} satisfies RulesOf<DashboardSettings>);
const dashboardChoice = oneOf(true, false).or(port).or(settings);

const MAKE_POOL = optionsSchema("MakePool", {
  local: plainObject<LocalClusterOptions>("an object of LocalCluster options").optional(),
  open: func<StreamOpener>("a function returning a stream, or undefined").optional(),
  dashboard: new Rule(`true, a port from 0 to 65535 or ${settings.expected}`, dashboardChoice.read)
    .after((value): DashboardSettings | undefined =>
      value === false ? undefined : value === true ? { port: 0 } : typeof value === "number" ? { port: value } : value,
    )
    .optional(),
  maxPacketSize: whole(1024).optional(),
  output: flag().or(func<(output: WorkerOutput) => void>()).optional(),
  log: oneOf(true, false)
    .or(func<(line: string) => void>())
    .after((value): ((line: string) => void) | undefined =>
      value === true ? toStderr : value === false ? undefined : value,
    )
    .optional(),
} satisfies RulesOf<MakePoolOptions>);

const toStderr = (line: string): void => void process.stderr.write(`glimpse-cluster pool: ${line}\n`);

/**
 * A pool on the cluster a config describes (files, or an object), or with
 * nothing to load on a local cluster of its own. A bad config is a
 * ConfigError naming file, section and key; a bad option an ArgumentError.
 */
export async function MakePool(
  config?: string | readonly string[] | ConfigInput,
  options: MakePoolOptions = {},
): Promise<ClusterPool> {
  const { local, open, dashboard, maxPacketSize, output, log } = MAKE_POOL.fill(options);
  const loaded = loadConfig(config);
  if (loaded === null)
    return poolOnLocalCluster(await LocalCluster.start({ maxPacketSize, ...local }), dashboard, output, log);
  const client = clientSection(loaded);
  return poolOnConfig(
    maxPacketSize === undefined ? client : { ...client, maxPacketSize },
    open,
    dashboard,
    output,
    log,
  );
}

/** The dashboard on `control`'s channels, when asked for; its address goes to stderr. */
async function openDashboard(
  control: ClusterControl,
  settings: DashboardSettings | undefined,
): Promise<Dashboard | undefined> {
  if (settings === undefined) return undefined;
  const { jobServers, tls, signed } = control.cluster;
  const dashboard = await Dashboard.start(control, { ...settings, jobServers, tls, signed });
  process.stderr.write(`glimpse-cluster dashboard on ${dashboard.url}\n`);
  return dashboard;
}

async function poolOnConfig(
  client: ClientConfig,
  open: StreamOpener | undefined,
  settings: DashboardSettings | undefined,
  output: OutputOption | undefined,
  log: ((line: string) => void) | undefined,
): Promise<ClusterPool> {
  const options = controlOptions(client);
  const control = await ClusterControl.open(options);
  let dashboard: Dashboard | undefined;
  try {
    dashboard = await openDashboard(control, settings);
  } catch (error) {
    await control.close();
    throw error;
  }
  return new ClusterPool({
    // Chunks wait for a job server as long as their timeout allows (chunk-job.ts), spending no retry.
    client: new GearmanClient({
      servers: client.jobServers,
      tls: client.jobServerTls,
      open,
      noServerTimeoutMs: false,
      maxPacketSize: client.maxPacketSize,
    }),
    control,
    cacheFunctions: client.cacheFunctions,
    defaults: {
      chunksize: client.chunksize,
      timeoutMs: client.pollTimeoutMs,
      retries: client.maxRetries,
      waitForNodesMs: client.waitForNodesMs,
      output: output ?? client.output,
    },
    key: options.key,
    signatureMaxAgeMs: client.signatureMaxAgeMs,
    dashboard,
    maxPacketSize: client.maxPacketSize,
    log,
  });
}

/**
 * A pool that owns a started local cluster: binds the channel ends, starts
 * the cluster's worker nodes on them, opens the dashboard when asked, and
 * closes the cluster when it closes (or when this fails).
 */
export async function poolOnLocalCluster(
  cluster: LocalCluster,
  settings?: DashboardSettings,
  output?: OutputOption,
  log?: (line: string) => void,
): Promise<ClusterPool> {
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
    await cluster.startWorkers(control.commands.endpoint, control.log.endpoint);
    const dashboard = await openDashboard(control, settings);
    return new ClusterPool({
      client: new GearmanClient({
        servers: [cluster.jobServer],
        open: () => cluster.connectInProcess(),
        noServerTimeoutMs: false,
        maxPacketSize: cluster.maxPacketSize,
      }),
      control,
      cacheFunctions: false,
      // The [client] defaults (config.ini.example).
      defaults: { chunksize: "auto", timeoutMs: 60_000, retries: 3, waitForNodesMs: 30_000, output },
      release: () => cluster.close(),
      key,
      dashboard,
      maxPacketSize: cluster.maxPacketSize,
      log,
      payloadDirectory: cluster.payloadDirectory,
    });
  } catch (error) {
    await control?.close();
    await cluster.close();
    throw error;
  }
}
