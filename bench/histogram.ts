/**
 * A latency histogram with logarithmic buckets: constant memory however many
 * round trips a case records, percentiles within half a bucket (≤ 0.6%).
 * Values are milliseconds; anything below 1 µs lands in the first bucket.
 */

/** Buckets per doubling: bucket edges grow by 2^(1/64) ≈ 1.1%. */
const PER_DOUBLING = 64;
/** Smallest value told apart, in ms (1 µs). */
const FLOOR_MS = 0.001;
/** Doublings above the floor: 1 µs · 2^40 ≈ 12.7 days. */
const DOUBLINGS = 40;

export class LatencyHistogram {
  readonly #counts = new Float64Array(PER_DOUBLING * DOUBLINGS + 1);
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;

  /** Records one latency in ms. Throws on a negative or non-finite value: that is a harness bug. */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency histogram: cannot record ${ms} ms`);
    const index =
      ms <= FLOOR_MS ? 0 : Math.min(this.#counts.length - 1, Math.ceil(Math.log2(ms / FLOOR_MS) * PER_DOUBLING));
    this.#counts[index]++;
    this.#count++;
    this.#sum += ms;
    if (ms < this.#min) this.#min = ms;
    if (ms > this.#max) this.#max = ms;
  }

  /** Adds every value another histogram recorded (rounds of one setting are merged this way). */
  merge(other: LatencyHistogram): this {
    for (let i = 0; i < other.#counts.length; i++) this.#counts[i] += other.#counts[i];
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
    return this;
  }

  get count(): number {
    return this.#count;
  }

  get mean(): number {
    return this.#count === 0 ? NaN : this.#sum / this.#count;
  }

  get min(): number {
    return this.#count === 0 ? NaN : this.#min;
  }

  get max(): number {
    return this.#count === 0 ? NaN : this.#max;
  }

  /**
   * The p-th percentile (0 < p ≤ 100) by nearest rank: the bucket holding the
   * value of rank ⌈p/100 · count⌉, reported as its geometric middle and
   * clamped to the recorded min and max. NaN when nothing was recorded.
   */
  percentile(p: number): number {
    if (!(p > 0 && p <= 100)) throw new RangeError(`latency histogram: percentile ${p} is outside (0, 100]`);
    if (this.#count === 0) return NaN;
    const rank = Math.ceil((p / 100) * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i];
      if (seen >= rank) {
        const middle = i === 0 ? FLOOR_MS : FLOOR_MS * 2 ** ((i - 0.5) / PER_DOUBLING);
        return Math.min(this.#max, Math.max(this.#min, middle));
      }
    }
    return this.#max;
  }
}
