/**
 * The job server's Prometheus metrics (glimpse_jobserver_*), read from
 * JobServer.stats() at each scrape: nothing is counted for them on the
 * server's hot path beyond the plain counts the scheduler keeps anyway, and
 * nothing at all runs while nobody scrapes.
 */
import { Counter, Gauge, Registry } from "prom-client";
import { FAILURE_REASONS } from "./scheduler-state.js";
import type { JobServerStats } from "./job-server.js";

const PRIORITIES = ["high", "normal", "low"] as const;

/**
 * A registry with the job server's metrics. prom-client's default process_*
 * and nodejs_* metrics are left out: their garbage-collection observer cost
 * the server about a quarter of its jobs/s at full load (bench
 * metrics-scrape); node_exporter or cAdvisor give those figures from outside.
 */
export function jobServerMetrics(server: { stats(): JobServerStats }): Registry {
  const registry = new Registry();
  let snapshot: JobServerStats | undefined;
  // One snapshot per scrape: the metrics of one scrape are collected in one turn of the event loop.
  const stats = (): JobServerStats => {
    if (snapshot === undefined) {
      snapshot = server.stats();
      setImmediate(() => (snapshot = undefined));
    }
    return snapshot;
  };
  const registers = [registry];
  new Gauge({
    name: "glimpse_jobserver_jobs_queued",
    help: "Jobs waiting for a worker, by function and priority (jobs waiting for their epoch are not counted)",
    labelNames: ["function", "priority"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions)
        PRIORITIES.forEach((priority, i) => this.set({ function: f.name, priority }, f.queued[i]));
    },
  });
  new Gauge({
    name: "glimpse_jobserver_jobs_running",
    help: "Jobs a worker holds now, by function",
    labelNames: ["function"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions) this.set({ function: f.name }, f.running);
    },
  });
  new Gauge({
    name: "glimpse_jobserver_jobs_scheduled",
    help: "SUBMIT_JOB_EPOCH jobs waiting for their time, by function",
    labelNames: ["function"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions) this.set({ function: f.name }, f.scheduled);
    },
  });
  new Gauge({
    name: "glimpse_jobserver_workers",
    help: "Connections registered for a function (CAN_DO)",
    labelNames: ["function"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions) this.set({ function: f.name }, f.workers);
    },
  });
  new Counter({
    name: "glimpse_jobserver_jobs_submitted_total",
    help: "Jobs accepted (JOB_CREATED for a new job; a submission joining a job with the same unique is not counted)",
    labelNames: ["function", "priority", "background"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions) {
        PRIORITIES.forEach((priority, i) => {
          this.inc({ function: f.name, priority, background: "false" }, f.submitted[i][0]);
          this.inc({ function: f.name, priority, background: "true" }, f.submitted[i][1]);
        });
      }
    },
  });
  new Counter({
    name: "glimpse_jobserver_jobs_completed_total",
    help: "Jobs that ended with WORK_COMPLETE",
    labelNames: ["function"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions) this.inc({ function: f.name }, f.completed);
    },
  });
  new Counter({
    name: "glimpse_jobserver_jobs_failed_total",
    help: "Jobs that ended without a result: reason fail (WORK_FAIL), exception (WORK_EXCEPTION), worker_lost (its worker was lost past the job retries), cancelled (admin cancel job)",
    labelNames: ["function", "reason"],
    registers,
    collect() {
      this.reset();
      for (const f of stats().functions)
        for (const reason of FAILURE_REASONS) this.inc({ function: f.name, reason }, f.failed[reason]);
    },
  });
  new Gauge({
    name: "glimpse_jobserver_connections",
    help: "Connections open now (clients, workers, admin sessions)",
    registers,
    collect() {
      this.set(stats().connections);
    },
  });
  new Counter({
    name: "glimpse_jobserver_bytes_total",
    help: "Bytes read from (received) and written to (sent) connections",
    labelNames: ["direction"],
    registers,
    collect() {
      this.reset();
      const { bytesReceived, bytesSent } = stats();
      this.inc({ direction: "received" }, bytesReceived);
      this.inc({ direction: "sent" }, bytesSent);
    },
  });
  if (server.stats().journal !== undefined) {
    new Gauge({
      name: "glimpse_jobserver_journal_bytes",
      help: "Size of the journal file of background jobs (--queue-file)",
      registers,
      collect() {
        this.set(stats().journal?.bytes ?? 0);
      },
    });
  }
  return registry;
}
