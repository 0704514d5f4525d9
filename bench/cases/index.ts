/** Every benchmark case, in the order `npm run bench` runs them. */
import type { BenchCase } from "../bench-case.js";
import { gearmanLibrary } from "./gearman-library.js";
import { jobServer } from "./job-server.js";
import { mapThroughput } from "./map-throughput.js";
import { submitLoop } from "./submit-loop.js";
import { cpuScaling } from "./cpu-scaling.js";
import { latency } from "./latency.js";
import { imapMemory } from "./imap-memory.js";
import { payload } from "./payload.js";
import { idleWorkers } from "./idle-workers.js";
import { serve } from "./serve.js";
import { serveDriveshaft } from "./serve-driveshaft.js";
import { metricsScrape } from "./metrics-scrape.js";

export const CASES: readonly BenchCase[] = [
  gearmanLibrary,
  jobServer,
  mapThroughput,
  submitLoop,
  cpuScaling,
  latency,
  imapMemory,
  payload,
  idleWorkers,
  serve,
  serveDriveshaft,
  metricsScrape,
];
