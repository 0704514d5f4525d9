export { JobServer, type ServerAddressInfo } from "./job-server.js";
export type { JobServerOptions } from "./server-options.js";
export { SERVER_VERSION } from "./admin-commands.js";
export { InProcessSocket } from "./in-process-socket.js";
