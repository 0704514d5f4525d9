/** The public API of the Gearman library: client, worker, admin client, their options and results, errors, and the protocol's packet names and numbers. */
export { GearmanClient, type JobStatus, type UniqueStatus } from "./client.js";
export { ClientJob } from "./client-job.js";
export type { ClientOptions, SubmitOptions, BackgroundOptions, Priority } from "./client-options.js";
export { GearmanWorker, type JobHandler } from "./worker.js";
export { WorkerJob } from "./worker-job.js";
export type { WorkerOptions, RegisterOptions } from "./worker-options.js";
export { AdminClient, type AdminOptions, type FunctionStatus, type WorkerInfo, type ShownJob } from "./admin.js";
export type { Payload } from "./payload.js";
export type { GearmanTlsOptions, StreamOpener, ServerStream } from "./transport.js";
export type { ReconnectOptions } from "./connection.js";
export { DEFAULT_PORT, type ServerAddress } from "./address.js";
export { GearmanError, ServerError, JobError, AdminError, type GearmanErrorCode } from "./errors.js";
export { ArgumentError } from "../argument-error.js";
export { PacketType, packetName, type PacketName } from "./packet-types.js";
