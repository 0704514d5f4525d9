/** What a benchmark case is and reports. Add a case: one file in bench/cases/, one line in bench/cases/index.ts. */

export interface Row {
  readonly contender: string;
  readonly setting: string;
  readonly [metric: string]: string | number;
}

export interface Ratio {
  readonly name: string;
  readonly value: number;
  /** The goal, as text (e.g. "≥ 1.0"), and whether the value meets it. */
  readonly goal?: string;
  readonly met?: boolean;
}

export interface CaseResult {
  readonly rows: Row[];
  readonly ratios: Ratio[];
  /** Settings of each contender, skipped peers and why, what limits the case. */
  readonly notes: string[];
}

export interface BenchCase {
  readonly name: string;
  /** The workload and settings, in one sentence. */
  readonly workload: string;
  run(): Promise<CaseResult>;
}

export const ratio = (name: string, value: number, goal?: { text: string; met: (v: number) => boolean }): Ratio => ({
  name,
  value: Math.round(value * 1000) / 1000,
  ...(goal ? { goal: goal.text, met: goal.met(value) } : {}),
});

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
