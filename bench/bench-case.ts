/**
 * What a benchmark case is and what it reports. Adding a case: one file in
 * bench/cases/ exporting a BenchCase, listed in bench/cases/index.ts.
 */

/** One line of a case's table: who ran, with which setting, and its figures. */
export interface Row {
  readonly contender: string;
  readonly setting: string;
  readonly [metric: string]: string | number;
}

export interface Ratio {
  /** What is divided by what, e.g. "embedded/gearmand jobs/s at 100 in flight". */
  readonly name: string;
  readonly value: number;
  /** The goal, as text (e.g. "≥ 1.0"), and whether the value meets it. */
  readonly goal?: string;
  readonly met?: boolean;
  /** The 1-minute load average at the start and at the end of its case (filled in by the runner). */
  readonly loadAverage?: readonly [number, number];
}

export interface CaseResult {
  readonly rows: Row[];
  readonly ratios: Ratio[];
  /** Settings of each contender, what limits the case, anything a reader needs to trust the figures. */
  readonly notes: string[];
}

export interface CaseContext {
  /** Fires when the case runs past its budget (or the run is interrupted): stop, clean up, and throw. */
  readonly signal: AbortSignal;
}

export interface BenchCase {
  /** The name `npm run bench -- NAME` selects. */
  readonly name: string;
  /** The workload and the settings every contender shares, in a sentence or two. */
  readonly workload: string;
  /** Wall-clock seconds the case may take; past it the runner aborts `context.signal` and moves on. */
  readonly budgetSeconds: number;
  run(context: CaseContext): Promise<CaseResult>;
}

export const ratio = (name: string, value: number, goal?: { text: string; met: (v: number) => boolean }): Ratio => ({
  name,
  value: Math.round(value * 1000) / 1000,
  ...(goal ? { goal: goal.text, met: goal.met(value) } : {}),
});

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The table row of a contender that could not run here, with the reason. */
export const skippedRow = (contender: string, reason: string): Row => ({ contender, setting: "skipped", reason });
