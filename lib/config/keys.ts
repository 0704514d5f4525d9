/**
 * Every configuration key, in one table: its section, its ini name, its
 * property name in the loaded config, how its text is read, and its default.
 * config.ini.example documents each for users. A parser returns the value,
 * or an Invalid for text that is not one (it never throws).
 */
import { formatAddress, readAddress } from "../gearman/address.js";
import { SECRET_EXPECTED, secretProblem } from "./secret-policy.js";
import { labelProblem, splitLabels } from "../wire/labels.js";

export type Section = "client" | "server";

/** What a parser returns for text that is no valid value; `detail` says why, when the parser knows more than "expected ...". */
export class Invalid {
  constructor(readonly detail?: string) {}
}
const INVALID = new Invalid();

export interface KeySpec {
  readonly section: Section;
  /** The ini name (snake_case, as the original's configs). */
  readonly name: string;
  /** The property in ClientConfig / ServerConfig. */
  readonly property: string;
  /** The value of the key's text, or an Invalid. */
  readonly parse: (text: string) => unknown;
  /** What a valid text is, for errors: "expected <this>, got ...". */
  readonly expected: string;
  readonly default: unknown;
  /** Never echo the value in an error (secrets). */
  readonly hidden?: boolean;
}

const ZMQ_ENDPOINT = /^(tcp:\/\/(\*|\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.\-_]+):(\*|\d{1,5})|ipc:\/\/.+|inproc:\/\/.+)$/;

function endpoint(text: string): string | Invalid {
  const value = text.trim();
  if (!ZMQ_ENDPOINT.test(value)) return INVALID;
  const port = /:(\d+)$/.exec(value)?.[1];
  if (value.startsWith("tcp://") && port !== undefined && Number(port) > 65535) return INVALID;
  return value;
}

function wholeNumber(min: number) {
  return (text: string): number | Invalid => {
    const value = Number(text.trim());
    return text.trim() === "" || !Number.isInteger(value) || value < min ? INVALID : value;
  };
}

function seconds(text: string): number | Invalid {
  const value = Number(text.trim());
  return text.trim() === "" || !Number.isFinite(value) || value <= 0 ? INVALID : Math.round(value * 1000);
}

/** Seconds ≥ 0, or none / off (false). */
function patience(text: string): number | false | Invalid {
  const value = text.trim().toLowerCase();
  if (value === "none" || value === "off") return false;
  const number = Number(value);
  return value === "" || !Number.isFinite(number) || number < 0 ? INVALID : Math.round(number * 1000);
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1024 ** 3,
};

/** A size of at least 1 KiB: bytes, or with a binary unit (64MiB, 64M, 64MB, 1G). */
function byteSize(text: string): number | Invalid {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim());
  if (!match) return INVALID;
  const name = match[2].toLowerCase();
  if (!Object.hasOwn(BYTE_UNITS, name)) return INVALID;
  const unit = BYTE_UNITS[name];
  const bytes = Math.floor(Number(match[1]) * unit);
  return bytes >= 1024 && Number.isSafeInteger(bytes) ? bytes : INVALID;
}

function boolean(text: string): boolean | Invalid {
  const value = text.trim().toLowerCase();
  if (["true", "yes", "on", "1"].includes(value)) return true;
  if (["false", "no", "off", "0"].includes(value)) return false;
  return INVALID;
}

function jobServers(text: string): string[] | Invalid {
  const servers: string[] = [];
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const address = readAddress(item.trim());
    if (typeof address === "string") return new Invalid(`job servers: ${address}`);
    servers.push(formatAddress(address));
  }
  return servers.length > 0 ? servers : new Invalid("job servers: no job server address given");
}

function chunksize(text: string): number | "auto" | Invalid {
  return text.trim().toLowerCase() === "auto" ? "auto" : wholeNumber(1)(text);
}

function secret(text: string): string | Invalid {
  const problem = secretProblem(text);
  return problem === undefined ? text.trim() : new Invalid(problem);
}

function nonEmpty(text: string): string | Invalid {
  return text.trim() === "" ? INVALID : text.trim();
}

function z85Key(text: string): string | Invalid {
  const value = text.trim();
  return /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/.test(value) ? value : INVALID;
}

function allowSource(text: string): boolean | "auto" | Invalid {
  return text.trim().toLowerCase() === "auto" ? "auto" : boolean(text);
}

function moduleList(text: string): string[] | Invalid {
  const entries = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return entries.some((e) => /\s/.test(e)) ? INVALID : entries;
}

function labelList(text: string): string[] | Invalid {
  const labels = splitLabels([text]);
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem !== undefined) return new Invalid(problem);
  }
  return labels;
}

const ENDPOINT = "a ZeroMQ endpoint such as tcp://127.0.0.1:9000 or ipc:///tmp/glimpse-commands";

const urls = (section: Section, base: number): KeySpec[] => [
  {
    section,
    name: "command_frontend_url",
    property: "commandFrontendUrl",
    parse: endpoint,
    expected: ENDPOINT,
    default: `tcp://127.0.0.1:${base}`,
  },
  {
    section,
    name: "command_backend_url",
    property: "commandBackendUrl",
    parse: endpoint,
    expected: ENDPOINT,
    default: `tcp://127.0.0.1:${base + 1}`,
  },
  {
    section,
    name: "log_frontend_url",
    property: "logFrontendUrl",
    parse: endpoint,
    expected: ENDPOINT,
    default: `tcp://127.0.0.1:${base + 2}`,
  },
  {
    section,
    name: "log_backend_url",
    property: "logBackendUrl",
    parse: endpoint,
    expected: ENDPOINT,
    default: `tcp://127.0.0.1:${base + 3}`,
  },
];

export const KEYS: readonly KeySpec[] = Object.freeze([
  {
    section: "client",
    name: "job_server_url",
    property: "jobServers",
    parse: jobServers,
    expected: "host:port (or unix:/path for a Unix socket), or a comma-separated list of them",
    // None: a client refuses a config without it (clientSection); the broker does not need it.
    default: [],
  },
  ...urls("client", 9000),
  {
    section: "client",
    name: "chunksize",
    property: "chunksize",
    parse: chunksize,
    expected: "a whole number ≥ 1 or 'auto'",
    default: 8,
  },
  {
    section: "client",
    name: "poll_timeout",
    property: "pollTimeoutMs",
    parse: seconds,
    expected: "a number of seconds > 0 (the per-chunk timeout)",
    default: 60_000,
  },
  {
    section: "client",
    name: "max_retries",
    property: "maxRetries",
    parse: wholeNumber(0),
    expected: "a whole number ≥ 0",
    default: 3,
  },
  {
    section: "client",
    name: "wait_for_nodes",
    property: "waitForNodesMs",
    parse: patience,
    expected:
      "a number of seconds ≥ 0, or none (how long a map may go with no chunk taken before it asks whether any worker node serves it)",
    default: 30_000,
  },
  {
    section: "client",
    name: "max_packet_size",
    property: "maxPacketSize",
    parse: byteSize,
    expected:
      "a size of at least 1 KiB: bytes, or with a unit such as 64MiB, 256M, 1G (the largest job or result a job server packet carries)",
    default: 64 * 1024 * 1024,
  },
  {
    section: "client",
    name: "cache_functions",
    property: "cacheFunctions",
    parse: boolean,
    expected: "true or false",
    default: false,
  },
  {
    section: "client",
    name: "output",
    property: "output",
    parse: boolean,
    expected: "true or false",
    default: true,
  },
  {
    section: "client",
    name: "job_server_tls",
    property: "jobServerTlsOn",
    parse: boolean,
    expected: "true or false",
    default: false,
  },
  {
    section: "client",
    name: "job_server_ca",
    property: "jobServerCaFile",
    parse: nonEmpty,
    expected: "the path of a PEM file of the CA(s) to trust for the job servers' certificates",
    default: undefined,
  },
  {
    section: "client",
    name: "job_server_cert",
    property: "jobServerCertFile",
    parse: nonEmpty,
    expected: "the path of a PEM client certificate for job servers that require one",
    default: undefined,
  },
  {
    section: "client",
    name: "job_server_key",
    property: "jobServerKeyFile",
    parse: nonEmpty,
    expected: "the path of the PEM key of job_server_cert",
    default: undefined,
  },
  {
    section: "client",
    name: "secret",
    property: "secret",
    parse: secret,
    expected: SECRET_EXPECTED,
    default: undefined,
    hidden: true,
  },
  {
    section: "client",
    name: "secret_file",
    property: "secretFile",
    parse: nonEmpty,
    expected: "the path of a file holding the shared secret",
    default: undefined,
  },
  {
    section: "client",
    name: "signature_max_age",
    property: "signatureMaxAgeMs",
    parse: seconds,
    expected: "a number of seconds > 0 (oldest signed message accepted)",
    default: 300_000,
  },
  {
    section: "client",
    name: "curve_public_key",
    property: "curvePublicKey",
    parse: z85Key,
    expected: "a 40-character Z85 CURVE public key (from `glimpse-cluster keygen`)",
    default: undefined,
  },
  {
    section: "client",
    name: "curve_secret_key",
    property: "curveSecretKey",
    parse: z85Key,
    expected: "a 40-character Z85 CURVE secret key (from `glimpse-cluster keygen`)",
    default: undefined,
    hidden: true,
  },
  ...urls("server", 9000),
  {
    section: "server",
    name: "allow_source",
    property: "allowSource",
    parse: allowSource,
    expected: "true, false or auto",
    default: "auto",
  },
  {
    section: "server",
    name: "prefetch",
    property: "prefetch",
    parse: wholeNumber(0),
    expected: "a whole number ≥ 0 (chunks each worker thread holds waiting behind the one it runs)",
    default: 1,
  },
  {
    section: "server",
    name: "labels",
    property: "labels",
    parse: labelList,
    expected: "a comma-separated list of labels (letters, digits, _ - and .), e.g. gpu, bigmem",
    default: [],
  },
  {
    section: "server",
    name: "exclusive",
    property: "exclusive",
    parse: boolean,
    expected: "true or false (serve only maps with one of this node's labels)",
    default: false,
  },
  {
    section: "server",
    name: "allowed_modules",
    property: "allowedModules",
    parse: moduleList,
    expected:
      "a comma-separated list of module specifiers or prefixes ending in / (e.g. file:///opt/tasks/, my-package)",
    default: [],
  },
]);

export const SECTIONS: readonly string[] = ["client", "server"];
