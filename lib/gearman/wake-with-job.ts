/**
 * An extension of the Gearman protocol that only our job server knows: a
 * worker that asked for it is handed a job in place of the NOOP that would
 * wake it, saving the NOOP → GRAB round trip before every job that finds it
 * asleep (a one-item map's whole latency is a few such hops).
 *
 *   worker ──OPTION_REQ "glimpse-wake-with-job"──► our server: OPTION_RES │ gearmand: ERROR UNKNOWN_OPTION (nothing changes)
 *   worker ──PRE_SLEEP──► (it parks one free slot: a standing GRAB_JOB_UNIQ)
 *   a job for it ──► JOB_ASSIGN_UNIQ at once (or, if none could be taken after all, NOOP as ever)
 *   worker ──OPTION_REQ "glimpse-unpark"──► the park is given up (answered OPTION_RES after any job it already brought)
 *
 * Workers ask only when they have one server: a park holds a slot, which on
 * a worker of several servers could keep another server's jobs waiting.
 */

/** Asks the server to hand jobs in place of NOOPs (lib/gearman/worker.ts asks; lib/server answers). */
export const WAKE_WITH_JOB = "glimpse-wake-with-job";
/** Withdraws the slot a PRE_SLEEP parked (stopping or pausing): answered after any job the park already brought. */
export const UNPARK = "glimpse-unpark";
