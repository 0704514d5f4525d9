export { JobServer, type ServerAddressInfo, type CloseOptions } from "./job-server.js";
export type { JobServerOptions } from "./server-options.js";
export { SERVER_VERSION } from "./admin-commands.js";
export type { InProcessSocket } from "./in-process-socket.js";
export type { JobServerStats } from "./job-server.js";
export type { FunctionSummary, FunctionCounts } from "./scheduler-views.js";
export { jobServerMetrics } from "./server-metrics.js";
export { serveJobServerMetrics } from "./metrics-thread.js";
