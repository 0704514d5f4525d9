/** JobServer options, validated once into a filled, frozen form (lib/options-schema.ts); and close()'s. */
import path from "node:path";
import { DEFAULT_MAX_PACKET_SIZE } from "../gearman/packet.js";
import {
  REFUSED,
  Rule,
  flag,
  func,
  object,
  optionsSchema,
  text,
  whole,
  type Filled,
  type RulesOf,
} from "../options-schema.js";

export interface JobServerOptions {
  /** Address to listen on. Default 127.0.0.1: loopback only, so nothing outside this machine can submit code. */
  host?: string;
  /** TCP port; 0 picks a free one (see listen()'s result). Default 4730. */
  port?: number;
  /**
   * Listen on this Unix socket (an absolute path) instead of TCP; host and port are then unused.
   * Who may connect is whoever the file system lets open it: put it in a directory only its owner
   * can enter to keep other users of the machine out. Clients reach it as `unix:PATH`.
   * A file left at the path by an earlier server is an error, not replaced. Default: TCP.
   */
  path?: string;
  /**
   * How often a job whose worker dropped it is handed out again before its
   * clients get WORK_FAIL (gearmand's -j). 0 means no limit, as in gearmand 1.1.20.
   * Default 0.
   */
  jobRetries?: number;
  /** Journal file for background jobs: written before JOB_CREATED, replayed at start. Default: none (memory only). */
  queueFile?: string;
  /** fsync the journal after each write (survives power loss, costs a disk flush per background job). Default false. */
  queueFsync?: boolean;
  /** Largest packet accepted, in bytes; a larger one gets ERROR and the connection is closed. Default 64 MiB. */
  maxPacketSize?: number;
  /** Most connections at once; more are refused (closed at once). Default 10000. */
  maxConnections?: number;
  /** Default limit of queued jobs per function (0: none); `maxqueue` overrides it per function. Default 0. */
  maxQueue?: number;
  /** Bytes a connection may have waiting to be sent before the server stops reading from it. Default 1 MiB. */
  writeHighWater?: number;
  /** Bytes a connection may have waiting to be sent before the server drops it as too slow. Default 256 MiB. */
  writeLimit?: number;
  /** Host part of job handles, `H:<prefix>:<n>`: up to 40 bytes, no spaces, tabs, NULs or colons. Default: the machine's hostname (cut to 40 bytes). */
  handlePrefix?: string;
  /** Where the server writes its log lines (errors from peers, journal replay). Default: dropped. */
  log?: (line: string) => void;
  /**
   * Require TLS on every connection: the server's certificate and key (PEM).
   * With `ca`, clients must also present a certificate signed by it (mutual
   * TLS: only holders of such a certificate can submit or take jobs).
   * Default: plain TCP.
   */
  tls?: { readonly cert: string | Buffer; readonly key: string | Buffer; readonly ca?: string | Buffer };
}

/** Handles stay within gearmand's 64 bytes: "H:" + prefix + ":" + up to 16 digits. */
const handlePrefix = new Rule("1 to 40 bytes without spaces, NULs or colons", (value) =>
  typeof value === "string" && value !== "" && Buffer.byteLength(value) <= 40 && !/[\s\0:]/.test(value)
    ? value
    : REFUSED,
);

const pem = new Rule<string | Buffer>("PEM text (a non-empty string or Buffer)", (value) =>
  (typeof value === "string" || Buffer.isBuffer(value)) && value.length > 0 ? value : REFUSED,
);

const SERVER = optionsSchema("JobServer", {
  host: text("an address such as 127.0.0.1").default("127.0.0.1"),
  port: whole(0, 65535).default(4730),
  path: text("an absolute path for the Unix socket")
    .after((value) => (path.isAbsolute(value) ? value : REFUSED))
    .optional(),
  jobRetries: whole(0).default(0),
  queueFile: text("a file path").optional(),
  queueFsync: flag().default(false),
  maxPacketSize: whole(64).default(DEFAULT_MAX_PACKET_SIZE),
  maxConnections: whole(1).default(10_000),
  maxQueue: whole(0).default(0),
  writeHighWater: whole(1).default(1024 * 1024),
  writeLimit: whole(1).default(256 * 1024 * 1024),
  handlePrefix: handlePrefix.optional(),
  log: func<(line: string) => void>("a function taking a line").default(() => {}),
  tls: object(
    { cert: pem, key: pem, ca: pem.optional() },
    "{ cert, key } (PEM), and optionally ca to require client certificates",
  ).optional(),
} satisfies RulesOf<JobServerOptions>);

export type FilledServerOptions = Omit<Filled<typeof SERVER.rules>, "handlePrefix"> & { readonly handlePrefix: string };

/** Checks every option once (ArgumentError naming the first bad one) and fills in the defaults; the handle prefix defaults to `hostname`. */
export function fillServerOptions(options: JobServerOptions, hostname: string): FilledServerOptions {
  const filled = SERVER.fill(options);
  if (filled.handlePrefix !== undefined) return filled as FilledServerOptions;
  return Object.freeze({ ...filled, handlePrefix: Buffer.from(hostname).subarray(0, 40).toString() });
}

export interface CloseOptions {
  /** Stop handing out jobs and let workers finish the ones they hold (up to graceMs) before closing connections. Default false. */
  graceful?: boolean;
  /** How long a graceful close waits for held jobs, in ms. Default 30 000. */
  graceMs?: number;
}

const CLOSE = optionsSchema("JobServer.close", {
  graceful: flag().default(false),
  graceMs: whole(0).default(30_000),
} satisfies RulesOf<CloseOptions>);

export function fillCloseOptions(options: CloseOptions): Filled<typeof CLOSE.rules> {
  return CLOSE.fill(options);
}
