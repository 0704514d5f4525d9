/**
 * How busy a pool keeps its endpoint (or its module's threads): the requests there now, integrated over time.
 *
 *   enter() ── a request goes out ──► now + 1      leave() ── its reply is in (or it failed) ──► now - 1
 *   requestSeconds: Σ now × dt since the pool started (a counter: its rate is the average number of requests there)
 *   average(): requestSeconds over the last 10 s / 10 s (since the start while the pool is younger)
 *
 * With worker_count slots, the average is at most worker_count; what it falls short of the endpoint's own
 * concurrency is time the endpoint waited for serve (the job server round trip, connecting, serve's own work).
 */

/** The window of average(), in seconds. */
export const OCCUPANCY_WINDOW_SECONDS = 10;

export class Occupancy {
  private current = 0;
  private total = 0;
  private last = performance.now();
  /** requestSeconds at each whole second of the window, oldest first: [ms, request-seconds]. */
  private readonly marks: [number, number][] = [];
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.marks.push([this.last, 0]);
    this.timer = setInterval(() => this.mark(), 1000).unref();
  }

  private advance(now: number): void {
    this.total += (this.current * (now - this.last)) / 1000;
    this.last = now;
  }

  private mark(): void {
    const now = performance.now();
    this.advance(now);
    this.marks.push([now, this.total]);
    if (this.marks.length > OCCUPANCY_WINDOW_SECONDS + 1) this.marks.shift();
  }

  /** A request went to the endpoint. */
  enter(): void {
    this.advance(performance.now());
    this.current++;
  }

  /** A request's reply came (or it failed, or was aborted). */
  leave(): void {
    this.advance(performance.now());
    this.current--;
  }

  /** Requests at the endpoint now. */
  get now(): number {
    return this.current;
  }

  /** Requests at the endpoint integrated over time since the pool started, in request-seconds. */
  get requestSeconds(): number {
    this.advance(performance.now());
    return this.total;
  }

  /** Requests at the endpoint on average over the last 10 s (since the start, for a younger pool). */
  average(): number {
    const now = performance.now();
    this.advance(now);
    const [since, then] = this.marks[0];
    return now > since ? (this.total - then) / ((now - since) / 1000) : this.current;
  }

  close(): void {
    clearInterval(this.timer);
  }
}
