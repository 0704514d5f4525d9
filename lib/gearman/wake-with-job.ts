/**
 * An extension of the Gearman protocol that only our job server knows: a
 * worker that asked for it is handed a job in place of the NOOP that would
 * wake it, saving the NOOP → GRAB round trip before every job that finds it
 * asleep, and the GRAB → NO_JOB → PRE_SLEEP exchange when it has none for
 * it (a one-item map's whole latency is a few such hops).
 *
 *   worker ──OPTION_REQ "glimpse-wake-with-job"──► our server: OPTION_RES │ gearmand: ERROR UNKNOWN_OPTION (nothing changes)
 *   worker ──PRE_SLEEP──► parks one free slot: a standing GRAB_JOB_UNIQ, answered with a job at once if one is
 *                         queued, else when one comes (never NO_JOB); one PRE_SLEEP per free slot
 *   a job for it ──► JOB_ASSIGN_UNIQ to the longest-parked worker, which goes to the back of the line
 *   worker ──OPTION_REQ "glimpse-unpark"──► its parks are given up (answered OPTION_RES after any job they brought)
 *
 * Workers ask only when they have one server: a park holds a slot, which on
 * a worker of several servers could keep another server's jobs waiting.
 */

/** Asks the server to hand jobs in place of NOOPs (lib/gearman/worker.ts asks; lib/server answers). */
export const WAKE_WITH_JOB = "glimpse-wake-with-job";
/** Withdraws the slot a PRE_SLEEP parked (stopping or pausing): answered after any job the park already brought. */
export const UNPARK = "glimpse-unpark";
