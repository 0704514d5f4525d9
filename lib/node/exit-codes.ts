/** Exit status of a worker node process that was told to restart (EX_TEMPFAIL). */
export const RESTART_EXIT_CODE = 75;
