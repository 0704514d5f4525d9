/**
 * glimpse-cluster: a distributed parallel map over Gearman. The package's
 * public API: pools and local clusters, the parts of a cluster (job server,
 * broker, worker nodes and their supervisor), configuration, and every error
 * a user can meet. Internals are imported by file, never through here.
 */
export { MakePool, type MakePoolOptions } from "./make-pool.js";
export { Dashboard } from "./dashboard/dashboard-server.js";
export type { DashboardOptions } from "./dashboard/dashboard-options.js";
export type { DashboardSnapshot } from "./dashboard/dashboard-state.js";
export { jobServerMetrics, serveJobServerMetrics } from "./server/index.js";
export { ClusterPool } from "./pool/cluster-pool.js";
export type { WorkerOutput, OutputOption } from "./pool/worker-output.js";
export type { MapOptions, IterOptions, Progress } from "./pool/map-options.js";
export type { SubmitOptions } from "./pool/submit-batcher.js";
export { asCompleted, type Completed, type AsCompletedOptions } from "./pool/as-completed.js";
export type { RetryOn } from "./pool/retry-on.js";
export type { ItemError, Outcome, SpreadFunction, Sources, Yielded, ErrorsMode } from "./pool/call-types.js";
export { PoolError, type PoolErrorCode } from "./pool/errors.js";
export type { NodeSelector } from "./control/node-selector.js";
export { LocalCluster, type LocalClusterOptions } from "./pool/local-cluster.js";
export { ArgumentError } from "./argument-error.js";
export {
  moduleFunction,
  RemoteError,
  RemoteCause,
  FunctionShippingError,
  ItemChangedError,
  ItemSerializationError,
  MemoryValueError,
  WireFormatError,
  type ModuleFunction,
  type MapFunction,
  type RemoteErrorDetails,
  type SerializedError,
} from "./wire/index.js";
export {
  loadConfig,
  ConfigError,
  type ClusterConfig,
  type ClientConfig,
  type ServerConfig,
  type ConfigInput,
} from "./config/index.js";
export { JobServer, type JobServerOptions } from "./server/index.js";
export {
  Broker,
  ChannelError,
  type BrokerUrls,
  type BrokerOptions,
  type ChannelErrorCode,
  type NodeStatsSnapshot,
  type NodeState,
} from "./channels/index.js";
export {
  SignatureError,
  newCurveKeys,
  type RefusalReason,
  type CurveKeys,
  type CurveSettings,
} from "./security/index.js";
export { WorkerNode, type StopReason } from "./node/worker-node.js";
export { NodeSupervisor, type SupervisorOptions } from "./node/node-supervisor.js";
export type { NodeOptionsInput } from "./node/node-options.js";
export { NodeError, FunctionRefusedError, type NodeErrorCode } from "./node/errors.js";
export * as gearman from "./gearman/index.js";
