/**
 * Driveshaft's jobsconfig, read exactly, into a filled, frozen form:
 *
 *   {
 *     "gearman_servers_list": ["host", "host:port"],          port 4730 by default
 *     "pools_list": {
 *       "NAME": {
 *         "job_processing_uri": "http://…",                   or (beyond Driveshaft) "job_processing_module": "file:///…/tasks.js#export"
 *         "worker_count": 8,                                  slots: jobs of this pool run at once
 *         "jobs_list": ["Sum", "Sum2"],                       Gearman functions; each in one pool only
 *         "request_format": "multipart" | "json",             beyond: default multipart (what Driveshaft sends)
 *         "max_running_time": 30                              beyond: seconds, overrides --max_running_time
 *       }
 *     }
 *   }
 *
 * Every problem is a JobsConfigError naming the file, the pool and the key.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { readAddress, type ServerAddress } from "../gearman/address.js";
import { JobsConfigError } from "./errors.js";
import { firstUnknownKey } from "../options-schema.js";
import { shown } from "../argument-error.js";

export type RequestFormat = "multipart" | "json";

export type Executor =
  | { readonly kind: "http"; readonly uri: string; readonly format: RequestFormat }
  | { readonly kind: "module"; readonly specifier: string; readonly exportName: string };

export interface PoolConfig {
  readonly name: string;
  readonly workerCount: number;
  readonly functions: readonly string[];
  readonly executor: Executor;
  /** Seconds; undefined: the command's --max_running_time. */
  readonly maxRunningTime: number | undefined;
}

export interface JobsConfig {
  readonly file: string;
  readonly servers: readonly ServerAddress[];
  readonly pools: ReadonlyMap<string, PoolConfig>;
}

const TOP_KEYS = ["gearman_servers_list", "pools_list"];
const POOL_KEYS = [
  "job_processing_uri",
  "job_processing_module",
  "worker_count",
  "jobs_list",
  "request_format",
  "max_running_time",
];

/** How a refused value is shown, as in every ArgumentError. */
const describe = shown;

/** Reads and checks the jobsconfig at `file`. */
export function loadJobsConfig(file: string): JobsConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, "utf8");
  } catch (error) {
    throw new JobsConfigError(absolute, undefined, undefined, `cannot be read: ${(error as Error).message}`);
  }
  return parseJobsConfig(text, absolute);
}

/** Checks a jobsconfig's text; `file` names it in errors and anchors relative module paths. */
export function parseJobsConfig(text: string, file: string): JobsConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new JobsConfigError(file, undefined, undefined, `is not JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new JobsConfigError(file, undefined, undefined, `expected a JSON object, got ${describe(raw)}`);
  const top = raw as Record<string, unknown>;
  const unknown = firstUnknownKey(top, TOP_KEYS, "key");
  if (unknown) throw new JobsConfigError(file, undefined, unknown.key, unknown.problem);
  const servers = readServers(file, top.gearman_servers_list);
  const poolsRaw = top.pools_list;
  if (poolsRaw === undefined) throw new JobsConfigError(file, undefined, "pools_list", "missing");
  if (poolsRaw === null || typeof poolsRaw !== "object" || Array.isArray(poolsRaw))
    throw new JobsConfigError(
      file,
      undefined,
      "pools_list",
      `expected an object of named pools, got ${describe(poolsRaw)}`,
    );
  const pools = new Map<string, PoolConfig>();
  const owner = new Map<string, string>();
  for (const [name, value] of Object.entries(poolsRaw as Record<string, unknown>)) {
    if (name === "") throw new JobsConfigError(file, name, undefined, "a pool name is empty");
    const pool = readPool(file, name, value);
    for (const func of pool.functions) {
      const other = owner.get(func);
      if (other !== undefined)
        throw new JobsConfigError(
          file,
          name,
          "jobs_list",
          `function ${JSON.stringify(func)} is already in pool ${JSON.stringify(other)} (a function belongs to one pool)`,
        );
      owner.set(func, name);
    }
    pools.set(name, pool);
  }
  return Object.freeze({ file, servers, pools });
}

function readServers(file: string, value: unknown): readonly ServerAddress[] {
  const key = "gearman_servers_list";
  if (value === undefined) throw new JobsConfigError(file, undefined, key, "missing");
  if (!Array.isArray(value))
    throw new JobsConfigError(
      file,
      undefined,
      key,
      `expected an array of "host" or "host:port", got ${describe(value)}`,
    );
  if (value.length === 0) throw new JobsConfigError(file, undefined, key, "lists no job server");
  const seen = new Set<string>();
  return Object.freeze(
    value.map((item, i) => {
      const address = readAddress(item);
      if (typeof address === "string") throw new JobsConfigError(file, undefined, key, `item ${i}: ${address}`);
      const id = `${address.host}:${address.port}`;
      if (seen.has(id)) throw new JobsConfigError(file, undefined, key, `item ${i}: ${id} is listed twice`);
      seen.add(id);
      return address;
    }),
  );
}

function readPool(file: string, name: string, value: unknown): PoolConfig {
  const fail = (key: string | undefined, problem: string) => new JobsConfigError(file, name, key, problem);
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw fail(undefined, `expected an object, got ${describe(value)}`);
  const pool = value as Record<string, unknown>;
  const unknown = firstUnknownKey(pool, POOL_KEYS, "key");
  if (unknown) throw fail(unknown.key, unknown.problem);

  const count = pool.worker_count;
  if (count === undefined) throw fail("worker_count", "missing");
  if (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > 10_000)
    throw fail("worker_count", `expected a whole number from 0 to 10000, got ${describe(count)}`);

  const jobs = pool.jobs_list;
  if (jobs === undefined) throw fail("jobs_list", "missing");
  if (!Array.isArray(jobs)) throw fail("jobs_list", `expected an array of function names, got ${describe(jobs)}`);
  const functions: string[] = [];
  jobs.forEach((func, i) => {
    if (typeof func !== "string" || func === "" || /[\0\s]/.test(func))
      throw fail(
        "jobs_list",
        `item ${i}: expected a function name (non-empty, no spaces or NUL), got ${describe(func)}`,
      );
    if (functions.includes(func)) throw fail("jobs_list", `item ${i}: ${JSON.stringify(func)} is listed twice`);
    functions.push(func);
  });

  let maxRunningTime: number | undefined;
  if (pool.max_running_time !== undefined) {
    const seconds = pool.max_running_time;
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0)
      throw fail("max_running_time", `expected a number of seconds > 0, got ${describe(seconds)}`);
    maxRunningTime = seconds;
  }
  return Object.freeze({
    name,
    workerCount: count,
    functions: Object.freeze(functions),
    executor: readExecutor(file, pool, fail),
    maxRunningTime,
  });
}

function readExecutor(
  file: string,
  pool: Record<string, unknown>,
  fail: (key: string | undefined, problem: string) => JobsConfigError,
): Executor {
  const uri = pool.job_processing_uri;
  const module = pool.job_processing_module;
  if (uri !== undefined && module !== undefined)
    throw fail("job_processing_module", "a pool has job_processing_uri or job_processing_module, not both");
  if (uri === undefined && module === undefined)
    throw fail("job_processing_uri", "missing (or give job_processing_module)");
  const format = pool.request_format;
  if (module !== undefined) {
    if (format !== undefined) throw fail("request_format", "applies to job_processing_uri only");
    return readModule(file, module, fail);
  }
  if (typeof uri !== "string")
    throw fail("job_processing_uri", `expected an http:// or https:// URI, got ${describe(uri)}`);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw fail("job_processing_uri", `${JSON.stringify(uri)} is not a URI`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw fail("job_processing_uri", `${JSON.stringify(uri)}: expected http:// or https://, got ${url.protocol}`);
  if (format !== undefined && format !== "multipart" && format !== "json")
    throw fail("request_format", `expected "multipart" or "json", got ${describe(format)}`);
  return Object.freeze({ kind: "http", uri: url.href, format: (format ?? "multipart") as RequestFormat });
}

function readModule(
  file: string,
  value: unknown,
  fail: (key: string | undefined, problem: string) => JobsConfigError,
): Executor {
  const key = "job_processing_module";
  if (typeof value !== "string" || value === "")
    throw fail(
      key,
      `expected "file:///…/tasks.js#export" or a path relative to the jobsconfig, got ${describe(value)}`,
    );
  const hash = value.lastIndexOf("#");
  const where = hash < 0 ? value : value.slice(0, hash);
  const exportName = hash < 0 ? "default" : value.slice(hash + 1);
  if (where === "" || exportName === "") throw fail(key, `${JSON.stringify(value)}: expected MODULE#EXPORT`);
  let specifier: string;
  if (where.startsWith("file:")) {
    try {
      specifier = new URL(where).href;
    } catch {
      throw fail(key, `${JSON.stringify(where)} is not a file URL`);
    }
  } else if (/^[a-z][a-z0-9+.-]*:/i.test(where)) {
    throw fail(key, `${JSON.stringify(where)}: expected a file: URL or a path`);
  } else {
    specifier = pathToFileURL(path.resolve(path.dirname(file), where)).href;
  }
  return Object.freeze({ kind: "module", specifier, exportName });
}

/** Whether two executors send jobs to the same place the same way. */
export function sameExecutor(a: Executor, b: Executor): boolean {
  if (a.kind === "http" && b.kind === "http") return a.uri === b.uri && a.format === b.format;
  if (a.kind === "module" && b.kind === "module") return a.specifier === b.specifier && a.exportName === b.exportName;
  return false;
}
