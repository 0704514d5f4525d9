/** UsageError lives in errors.ts with the command's other errors; commands/job-server.ts imports it from here. */
export { UsageError } from "./errors.js";
