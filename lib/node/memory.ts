/**
 * The shared memory as functions see it on a worker thread: read-only, set by
 * the pool with setMemory / clearMemory. Module functions import it
 * (`import { memory } from "glimpse-cluster/memory"`); source functions get it
 * as the free name `memory`.
 */
export { memory, type SharedMemoryView } from "./thread-memory.js";
