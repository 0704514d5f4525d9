/** The serve layer's public part: a Gearman worker manager running Driveshaft's jobsconfig. */
export { Serve, type ServeOptions, type PoolSummary, type PoolSlots } from "./serve.js";
export {
  loadJobsConfig,
  parseJobsConfig,
  type JobsConfig,
  type PoolConfig,
  type Executor,
  type RequestFormat,
} from "./jobs-config.js";
export { StatusPort, threadsText, poolsText, type StatusPortOptions } from "./status-port.js";
export { MetricsExporter } from "./metrics-exporter.js";
export { ConfigWatcher } from "./config-watcher.js";
export { readLogConfig, type LogSettings } from "./log-config.js";
export { lineLog, type ServeLog, type LogLevel } from "./serve-log.js";
export { ServeError, JobsConfigError, type ServeErrorCode } from "./errors.js";
export type { ServeJob } from "./module-runner.js";
