/** glimpse-cluster: a distributed parallel map over Gearman. */
export { MakePool, type MakePoolOptions } from "./pool/make-pool.js";
export { ClusterPool } from "./pool/cluster-pool.js";
export type { MapOptions, Progress } from "./pool/map-options.js";
export { PoolError } from "./pool/errors.js";
export { ArgumentError } from "./argument-error.js";
export { LocalCluster, type LocalClusterOptions } from "./pool/local-cluster.js";
export { RemoteError, FunctionShippingError, ItemSerializationError, WireFormatError, moduleFunction, type ModuleFunction, type MapFunction } from "./wire/index.js";
export { loadConfig, ConfigError, type ClusterConfig } from "./config/index.js";
export { JobServer, type JobServerOptions } from "./server/index.js";
export { Broker } from "./channels/index.js";
export { WorkerNode } from "./node/worker-node.js";
export { NodeSupervisor } from "./node/node-supervisor.js";
export type { NodeStatsSnapshot } from "./channels/index.js";
export * as gearman from "./gearman/index.js";
