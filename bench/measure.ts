/** Statistics over a few samples (per-round figures); long latency series go to LatencyHistogram instead. */

/** p-th percentile (0-100) of `values`, by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/**
 * Median of the ratios ours[i] / theirs[i], one per round in which both ran. Under a shared machine's drift a
 * ratio taken within a round shares its moment, so this is steadier than the ratio of the two medians.
 */
export function medianOfRatios(ours: readonly number[], theirs: readonly number[]): number {
  const n = Math.min(ours.length, theirs.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(ours[i] / theirs[i]);
  return median(ratios);
}
