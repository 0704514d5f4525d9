/**
 * Loading the cluster configuration.
 *
 *   loadConfig("a.ini" | ["a.ini", "b.ini"] | { client: {...}, server: {...} } | undefined)
 *     ──► GLIMPSE_CLUSTER_CONFIG file (if set), then the given files in order, each overriding the last
 *     ──► %(name)s interpolation per section ──► every key checked against KEYS ──► frozen ClusterConfig
 *
 * An unknown name gets the near-miss suggestion options get (suggest, in
 * options-schema.ts); the values are ini text, read by the parsers in keys.ts.
 *
 * With no source and no GLIMPSE_CLUSTER_CONFIG the result is null: the caller
 * (MakePool) then starts a local cluster.
 */
import fs from "node:fs";
import path from "node:path";
import ini from "ini";
import { ConfigError } from "./errors.js";
import { KEYS, SECTIONS, Invalid, type KeySpec, type Section } from "./keys.js";
import { interpolate, references } from "./interpolate.js";
import { SECRET_EXPECTED, describeRefusedSecret, secretProblem } from "./secret-policy.js";
import { ArgumentError } from "../argument-error.js";
import { suggest } from "../options-schema.js";

export interface ClientConfig {
  /** Job servers, "host:port" each. */
  readonly jobServers: readonly string[];
  readonly commandFrontendUrl: string;
  readonly commandBackendUrl: string;
  readonly logFrontendUrl: string;
  readonly logBackendUrl: string;
  readonly chunksize: number | "auto";
  /** Per-chunk timeout, in ms (the ini's poll_timeout is in seconds). */
  readonly pollTimeoutMs: number;
  readonly maxRetries: number;
  /** The largest packet data a job server connection carries, in bytes. */
  readonly maxPacketSize: number;
  /** A map's patience for worker nodes (false: none), in ms. */
  readonly waitForNodesMs: number | false;
  readonly cacheFunctions: boolean;
  /**
   * Whether maps forward their functions' console output from the workers to this process (the default
   * of every map's `output` option; MakePool's `output` option overrides it).
   */
  readonly output: boolean;
  /**
   * The cluster secret (secret, or the contents of secret_file, or
   * GLIMPSE_CLUSTER_SECRET): when set, every job payload, command and log
   * message is signed and checked. Undefined: nothing is.
   */
  readonly secret: string | undefined;
  /** The file the secret was read from, if any (absolute). */
  readonly secretFile: string | undefined;
  /** Oldest signed message accepted, in ms. */
  readonly signatureMaxAgeMs: number;
  /**
   * TLS to the job servers (job_server_tls, or any of job_server_ca / _cert / _key):
   * the PEM contents of those files. Undefined: plain TCP.
   */
  readonly jobServerTls: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  /** The cluster's CURVE key pair (Z85): when set, every ZeroMQ channel is encrypted and only holders of it may connect. */
  readonly curvePublicKey: string | undefined;
  readonly curveSecretKey: string | undefined;
}

export interface ServerConfig {
  readonly commandFrontendUrl: string;
  readonly commandBackendUrl: string;
  readonly logFrontendUrl: string;
  readonly logBackendUrl: string;
  /** Whether worker nodes run functions shipped as source: true, false, or auto (only with a secret or loopback-only job servers). */
  readonly allowSource: boolean | "auto";
  /** Module specifiers (or prefixes ending in /) whose functions a worker node runs even when source is not allowed. */
  readonly allowedModules: readonly string[];
  /** Chunks each worker thread holds waiting behind the one it runs (0: none; see NodeOptionsInput.prefetch). */
  readonly prefetch: number;
  /** The worker node's labels: it also serves maps given one of them (glimpse_map:LABEL; docs/labels.md). */
  readonly labels: readonly string[];
  /** Serve only maps with one of the labels (register no plain glimpse_map). */
  readonly exclusive: boolean;
}

export interface ClusterConfig {
  readonly client: ClientConfig;
  readonly server: ServerConfig;
  /** The files read, in order. */
  readonly files: readonly string[];
  /**
   * Where each key that was set came from, by `section.key` (its ini name, e.g. `server.exclusive`): the
   * file (absolute), or "config object". A key left at its default is absent. For errors that a setting
   * meets later, outside this module (a worker node's options), to name the file and key.
   */
  readonly origins: ReadonlyMap<string, string>;
}

/** A config given as an object: sections of keys, by their ini names (job_server_url) or property names (jobServers). */
export type ConfigInput = { readonly [section: string]: { readonly [key: string]: unknown } | undefined };

type Raw = Map<Section, Map<string, { value: string; file: string | undefined }>>;

/**
 * A key given twice in one section (the ini reader would keep the last one
 * silently): a ConfigError naming both lines. Sections may repeat; their
 * keys count together, as they are read together.
 */
function refuseRepeatedKeys(text: string, file: string): void {
  const seen = new Map<string, number>();
  let section = "";
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith(";") || line.startsWith("#")) continue;
    const header = /^\[(.*?)\]\s*([;#].*)?$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    const equals = line.indexOf("=");
    const key = (equals < 0 ? line : line.slice(0, equals)).trim().toLowerCase();
    if (key === "" || key.endsWith("[]")) continue; // ini's arrays repeat their key on purpose
    const where = `${section.toLowerCase()}\0${key}`;
    const first = seen.get(where);
    if (first !== undefined)
      throw new ConfigError(`set twice, on lines ${first} and ${i + 1}; keep one`, file, section || undefined, key);
    seen.set(where, i + 1);
  }
}

/** The section a key of `section` that is unknown there belongs in, if it is another's. */
function otherSection(section: string, key: string): string {
  const home = KEYS.find((k) => k.section !== section && (k.name === key || k.property === key));
  return home ? `a [${home.section}] key: it belongs in [${home.section}], not [${section}]` : "";
}

function readFile(file: string, raw: Raw): void {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new ConfigError(`cannot read the configuration file: ${reason}`, file);
  }
  refuseRepeatedKeys(text, file);
  const parsed = ini.parse(text) as Record<string, unknown>;
  const defaults = new Map<string, string>();
  const sections = new Map<string, Map<string, string>>();
  for (const [name, content] of Object.entries(parsed)) {
    if (content === null || typeof content !== "object") {
      throw new ConfigError(
        `"${name}" is outside any section; put it under [client], [server] or [DEFAULT]`,
        file,
        undefined,
        name,
      );
    }
    const lower = name.toLowerCase();
    if (lower !== "default" && !SECTIONS.includes(lower))
      throw new ConfigError(
        `unknown section${suggest(lower, SECTIONS)}; known: [client], [server], [DEFAULT]`,
        file,
        name,
      );
    const target = lower === "default" ? defaults : (sections.get(lower) ?? new Map());
    for (const [key, value] of Object.entries(content as Record<string, unknown>)) {
      if (value !== null && typeof value === "object")
        throw new ConfigError(`expected a value, got a nested section`, file, name, key);
      target.set(key.toLowerCase(), String(value));
    }
    if (lower !== "default") sections.set(lower, target);
  }
  for (const [section, values] of sections) {
    const lookup = (name: string) => values.get(name) ?? defaults.get(name);
    const variables = new Set<string>();
    for (const value of values.values()) for (const name of references(value)) variables.add(name);
    const known = KEYS.filter((k) => k.section === section).map((k) => k.name);
    const target = raw.get(section as Section) ?? new Map();
    for (const [key, value] of values) {
      if (!known.includes(key)) {
        if (variables.has(key)) continue; // a helper variable for %(name)s, as in the original's configs
        const elsewhere = otherSection(section, key);
        throw new ConfigError(
          elsewhere || `unknown key${suggest(key, known)}; known: ${known.join(", ")}`,
          file,
          section,
          key,
        );
      }
      const resolved = interpolate(value, lookup);
      if ("problem" in resolved) throw new ConfigError(resolved.problem, file, section, key);
      target.set(key, { value: resolved.value, file });
    }
    raw.set(section as Section, target);
  }
}

function readObject(input: ConfigInput, raw: Raw): void {
  for (const [section, content] of Object.entries(input)) {
    if (content === undefined) continue;
    if (!SECTIONS.includes(section))
      throw new ConfigError(
        `unknown section${suggest(section, SECTIONS)}; known: client, server`,
        "config object",
        section,
      );
    if (content === null || typeof content !== "object")
      throw new ConfigError(`expected an object of keys`, "config object", section);
    const target = raw.get(section as Section) ?? new Map();
    for (const [key, value] of Object.entries(content)) {
      if (value === undefined) continue;
      const spec = KEYS.find((k) => k.section === section && (k.name === key || k.property === key));
      if (!spec) {
        const known = KEYS.filter((k) => k.section === section).flatMap((k) => [k.name, k.property]);
        const elsewhere = otherSection(section, key);
        throw new ConfigError(elsewhere || `unknown key${suggest(key, known)}`, "config object", section, key);
      }
      const text = Array.isArray(value)
        ? value.join(",")
        : spec.property.endsWith("Ms") && key === spec.property
          ? String(Number(value) / 1000)
          : String(value);
      target.set(spec.name, { value: text, file: undefined });
    }
    raw.set(section as Section, target);
  }
}

function build(raw: Raw, section: Section): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values = raw.get(section);
  for (const spec of KEYS.filter((k: KeySpec) => k.section === section)) {
    const entry = values?.get(spec.name);
    if (entry === undefined) {
      out[spec.property] = spec.default;
      continue;
    }
    const parsed = spec.parse(entry.value);
    if (parsed instanceof Invalid) {
      const got = spec.hidden ? `a value of ${Buffer.byteLength(entry.value.trim())} bytes` : `"${entry.value}"`;
      const detail = parsed.detail === undefined ? "" : ` (${parsed.detail})`;
      throw new ConfigError(
        `expected ${spec.expected}, got ${got}${detail}`,
        entry.file ?? "config object",
        section,
        spec.name,
      );
    }
    out[spec.property] = parsed;
  }
  return Object.freeze(out);
}

function originsOf(raw: Raw): ReadonlyMap<string, string> {
  const origins = new Map<string, string>();
  for (const [section, entries] of raw)
    for (const [key, entry] of entries) origins.set(`${section}.${key}`, entry.file ?? "config object");
  return origins;
}

/** Reads a file a [client] key names, relative to the config file that named it; errors name both. */
function readNamedFile(raw: Raw, key: string, value: string): string {
  const origin = raw.get("client")?.get(key)?.file;
  const file = path.resolve(origin ? path.dirname(origin) : process.cwd(), value);
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`, origin ?? "config object", "client", key);
  }
}

function resolveTls(raw: Raw, client: ClientConfig): ClientConfig["jobServerTls"] {
  const files = client as unknown as {
    jobServerTlsOn: boolean;
    jobServerCaFile?: string;
    jobServerCertFile?: string;
    jobServerKeyFile?: string;
  };
  if (!files.jobServerTlsOn && !files.jobServerCaFile && !files.jobServerCertFile && !files.jobServerKeyFile)
    return undefined;
  if ((files.jobServerCertFile === undefined) !== (files.jobServerKeyFile === undefined)) {
    const missing = files.jobServerCertFile === undefined ? "job_server_cert" : "job_server_key";
    throw new ConfigError(
      `job_server_cert and job_server_key go together; ${missing} is missing`,
      raw.get("client")?.get(missing === "job_server_cert" ? "job_server_key" : "job_server_cert")?.file ??
        "config object",
      "client",
      missing,
    );
  }
  return Object.freeze({
    ca: files.jobServerCaFile && readNamedFile(raw, "job_server_ca", files.jobServerCaFile),
    cert: files.jobServerCertFile && readNamedFile(raw, "job_server_cert", files.jobServerCertFile),
    key: files.jobServerKeyFile && readNamedFile(raw, "job_server_key", files.jobServerKeyFile),
  });
}

/** The secret from secret, secret_file (relative to the file naming it) or GLIMPSE_CLUSTER_SECRET, in that order; CURVE keys come in pairs. */
function resolveSecret(
  raw: Raw,
  client: ClientConfig,
  env: NodeJS.ProcessEnv,
): Pick<ClientConfig, "secret" | "secretFile"> {
  const entries = raw.get("client");
  const where = (key: string) => entries?.get(key)?.file ?? "config object";
  if ((client.curvePublicKey === undefined) !== (client.curveSecretKey === undefined)) {
    const missing = client.curvePublicKey === undefined ? "curve_public_key" : "curve_secret_key";
    throw new ConfigError(
      `curve_public_key and curve_secret_key go together; ${missing} is missing (glimpse-cluster keygen prints both)`,
      where(missing === "curve_public_key" ? "curve_secret_key" : "curve_public_key"),
      "client",
      missing,
    );
  }
  if (client.secret !== undefined && client.secretFile !== undefined) {
    throw new ConfigError(
      `secret and secret_file are both set; keep one`,
      where("secret_file"),
      "client",
      "secret_file",
    );
  }
  if (client.secretFile !== undefined) {
    const origin = entries?.get("secret_file")?.file;
    const file = path.resolve(origin ? path.dirname(origin) : process.cwd(), client.secretFile);
    const secret = readNamedFile(raw, "secret_file", client.secretFile).trim();
    const problem = secretProblem(secret);
    if (problem !== undefined) {
      throw new ConfigError(
        `the secret file ${file} holds ${describeRefusedSecret(secret, problem)}; expected ${SECRET_EXPECTED}`,
        where("secret_file"),
        "client",
        "secret_file",
      );
    }
    return { secret, secretFile: file };
  }
  if (client.secret === undefined && env.GLIMPSE_CLUSTER_SECRET !== undefined) {
    const secret = env.GLIMPSE_CLUSTER_SECRET.trim();
    const problem = secretProblem(secret);
    if (problem !== undefined) {
      throw new ConfigError(
        `GLIMPSE_CLUSTER_SECRET holds ${describeRefusedSecret(secret, problem)}; expected ${SECRET_EXPECTED}`,
        "environment",
      );
    }
    return { secret, secretFile: undefined };
  }
  return { secret: client.secret, secretFile: undefined };
}

/**
 * The [client] section of a configuration that a client uses (MakePool, the
 * cluster commands, worker nodes, the dashboard): it must name its job
 * servers. An empty file, or one with only [server], is a ConfigError
 * saying so, not a silent 127.0.0.1:4730.
 */
export function clientSection(config: ClusterConfig): ClientConfig {
  if (config.client.jobServers.length > 0) return config.client;
  throw new ConfigError(
    "not set: a client needs the job servers' addresses, e.g. job_server_url = 127.0.0.1:4730",
    config.files.length > 0 ? config.files.join(", ") : "config object",
    "client",
    "job_server_url",
  );
}

/**
 * Loads the configuration. Returns null when there is nothing to load (no
 * source and no GLIMPSE_CLUSTER_CONFIG): a local cluster is wanted.
 */
export function loadConfig(
  source?: string | readonly string[] | ConfigInput,
  env: NodeJS.ProcessEnv = process.env,
): ClusterConfig | null {
  const files: string[] = [];
  if (env.GLIMPSE_CLUSTER_CONFIG) files.push(env.GLIMPSE_CLUSTER_CONFIG);
  let object: ConfigInput | undefined;
  if (typeof source === "string") files.push(source);
  else if (Array.isArray(source)) files.push(...(source as string[]));
  else if (source !== undefined && source !== null) {
    if (typeof source !== "object")
      throw new ArgumentError(
        "configuration",
        `expected a file path, a list of paths or a config object, got ${typeof source}`,
      );
    object = source as ConfigInput;
  }
  if (files.length === 0 && object === undefined) return null;
  const raw: Raw = new Map();
  for (const file of files) readFile(path.resolve(file), raw);
  if (object) readObject(object, raw);
  const client = build(raw, "client") as unknown as ClientConfig;
  return Object.freeze({
    client: Object.freeze({ ...client, ...resolveSecret(raw, client, env), jobServerTls: resolveTls(raw, client) }),
    server: build(raw, "server") as unknown as ServerConfig,
    files: Object.freeze(files.map((f) => path.resolve(f))),
    origins: originsOf(raw),
  });
}
