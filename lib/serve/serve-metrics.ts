/**
 * serve's Prometheus series, in a registry of its own.
 *
 * Driveshaft 0.7's names and labels, so its dashboards keep working:
 *   driveshaft_job_duration{pool,function}       histogram, seconds, of completed jobs (buckets 0.01 … 1000, as Driveshaft's)
 *   driveshaft_http_errors{pool,function,http_status}   counter: replies with a status outside 2xx
 *   driveshaft_timeouts{pool,function}           counter: jobs failed for running past max_running_time
 *   driveshaft_errors{pool,function}             counter: every job that did not complete (the two above included)
 *   driveshaft_threads{pool,status="idle"}       gauge: idle slots
 *   driveshaft_threads{pool,function,status="working"}  gauge: busy slots by function
 * driveshaft_threads is read from the slots at each scrape, so a removed slot or pool is gone from it
 * (Driveshaft never subtracts dead threads).
 *
 * Ours:
 *   glimpse_serve_jobs_total{pool,function,outcome}  outcome: complete, exception, bad_reply, timeout, lost, stopped
 *   glimpse_serve_slots{pool,state}              gauge: state busy or idle
 *   glimpse_serve_endpoint_seconds{pool}         histogram of the endpoint's (or module handler's) time per job
 *   glimpse_serve_endpoint_request_seconds_total{pool}  counter: requests at the endpoint integrated over time; its
 *                                                rate is the average number of requests there (occupancy.ts)
 *   glimpse_serve_endpoint_occupancy{pool}       gauge: requests at the endpoint on average over about the last 10 s
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export type JobOutcome = "complete" | "exception" | "bad_reply" | "timeout" | "lost" | "stopped";

/** What the gauges read at scrape time. */
export interface SlotView {
  readonly pool: string;
  readonly functions: readonly string[];
  readonly idle: number;
  readonly busyByFunction: ReadonlyMap<string, number>;
  /** Requests at the endpoint integrated over time (request-seconds) since the pool started. */
  readonly endpointRequestSeconds: number;
  /** Requests at the endpoint on average over about the last 10 s. */
  readonly atEndpoint: number;
}

interface CompleteSeries {
  readonly jobs: Counter.Internal;
  readonly duration: Histogram.Internal<"pool" | "function">;
}

export class ServeMetrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<"pool" | "function">;
  private readonly httpErrors: Counter<"pool" | "function" | "http_status">;
  private readonly timeouts: Counter<"pool" | "function">;
  private readonly errors: Counter<"pool" | "function">;
  private readonly jobs: Counter<"pool" | "function" | "outcome">;
  private readonly endpoint: Histogram<"pool">;
  private readonly complete = new Map<string, Map<string, CompleteSeries>>();
  private readonly endpointByPool = new Map<string, Histogram.Internal<"pool">>();

  constructor(views: () => readonly SlotView[]) {
    const registers = [this.registry];
    this.duration = new Histogram({
      name: "driveshaft_job_duration",
      help: "histogram of the execution time of successful jobs, in seconds",
      labelNames: ["pool", "function"],
      buckets: [0.01, 0.1, 1, 10, 100, 1000],
      registers,
    });
    this.httpErrors = new Counter({
      name: "driveshaft_http_errors",
      help: "replies with an HTTP status outside 2xx",
      labelNames: ["pool", "function", "http_status"],
      registers,
    });
    this.timeouts = new Counter({
      name: "driveshaft_timeouts",
      help: "jobs failed for running past max_running_time",
      labelNames: ["pool", "function"],
      registers,
    });
    this.errors = new Counter({
      name: "driveshaft_errors",
      help: "jobs that did not complete, including driveshaft_http_errors and driveshaft_timeouts",
      labelNames: ["pool", "function"],
      registers,
    });
    new Gauge({
      name: "driveshaft_threads",
      help: "slots by pool and function, working or idle",
      labelNames: ["pool", "function", "status"],
      registers,
      collect() {
        this.reset();
        for (const view of views()) {
          this.set({ pool: view.pool, status: "idle" }, view.idle);
          const functions = new Set([...view.functions, ...view.busyByFunction.keys()]);
          for (const func of functions)
            this.set({ pool: view.pool, function: func, status: "working" }, view.busyByFunction.get(func) ?? 0);
        }
      },
    });
    this.jobs = new Counter({
      name: "glimpse_serve_jobs_total",
      help: "jobs ended, by pool, function and outcome",
      labelNames: ["pool", "function", "outcome"],
      registers,
    });
    new Gauge({
      name: "glimpse_serve_slots",
      help: "slots by pool, busy or idle",
      labelNames: ["pool", "state"],
      registers,
      collect() {
        this.reset();
        for (const view of views()) {
          let busy = 0;
          for (const n of view.busyByFunction.values()) busy += n;
          this.set({ pool: view.pool, state: "busy" }, busy);
          this.set({ pool: view.pool, state: "idle" }, view.idle);
        }
      },
    });
    new Counter({
      name: "glimpse_serve_endpoint_request_seconds_total",
      help: "requests at the endpoint (or module handler) integrated over time; its rate is how many are there on average",
      labelNames: ["pool"],
      registers,
      collect() {
        this.reset();
        for (const view of views()) this.inc({ pool: view.pool }, view.endpointRequestSeconds);
      },
    });
    new Gauge({
      name: "glimpse_serve_endpoint_occupancy",
      help: "requests at the endpoint (or module handler) on average over about the last 10 s",
      labelNames: ["pool"],
      registers,
      collect() {
        this.reset();
        for (const view of views()) this.set({ pool: view.pool }, view.atEndpoint);
      },
    });
    this.endpoint = new Histogram({
      name: "glimpse_serve_endpoint_seconds",
      help: "time the endpoint (or module handler) took per job, in seconds",
      labelNames: ["pool"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
  }

  /**
   * The series a completed job touches, looked up once per pool and function: prom-client hashes a label
   * object on every observe, which was a measurable part of serve's CPU per job.
   */
  private completeSeries(pool: string, func: string): CompleteSeries {
    let byFunction = this.complete.get(pool);
    if (!byFunction) this.complete.set(pool, (byFunction = new Map()));
    let series = byFunction.get(func);
    if (!series)
      byFunction.set(
        func,
        (series = {
          jobs: this.jobs.labels({ pool, function: func, outcome: "complete" }),
          duration: this.duration.labels({ pool, function: func }),
        }),
      );
    return series;
  }

  private endpointSeries(pool: string): Histogram.Internal<"pool"> {
    let series = this.endpointByPool.get(pool);
    if (!series) this.endpointByPool.set(pool, (series = this.endpoint.labels({ pool })));
    return series;
  }

  jobEnded(pool: string, func: string, outcome: JobOutcome, seconds: number, httpStatus?: number): void {
    if (outcome === "complete") {
      const series = this.completeSeries(pool, func);
      series.jobs.inc();
      series.duration.observe(seconds);
      return;
    }
    this.jobs.inc({ pool, function: func, outcome });
    if (outcome === "lost") return; // the job server requeues it: not a failure of this job
    this.errors.inc({ pool, function: func });
    if (outcome === "timeout") this.timeouts.inc({ pool, function: func });
    if (httpStatus !== undefined) this.httpErrors.inc({ pool, function: func, http_status: String(httpStatus) });
  }

  endpointTime(pool: string, seconds: number): void {
    this.endpointSeries(pool).observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
