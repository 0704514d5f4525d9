/** JobServer options, validated once into a filled, frozen form. */
import path from "node:path";
import { DEFAULT_MAX_PACKET_SIZE } from "../gearman/packet.js";
import { ArgumentError, wholeNumber } from "../argument-error.js";

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

export type FilledServerOptions = Readonly<Required<Omit<JobServerOptions, "queueFile" | "log" | "tls" | "path">>> & {
  readonly path: string | undefined;
  readonly queueFile: string | undefined;
  readonly tls: JobServerOptions["tls"];
  readonly log: (line: string) => void;
};

const option = (name: string) => `JobServer option ${name}`;

function whole(name: string, value: unknown, min: number, max?: number): number {
  return wholeNumber(option(name), value, min, max);
}

/** Handles stay within gearmand's 64 bytes: "H:" + prefix + ":" + up to 16 digits. */
function prefix(value: unknown): string {
  if (typeof value !== "string" || value === "" || Buffer.byteLength(value) > 40 || /[\s\0:]/.test(value)) {
    throw new ArgumentError(
      option("handlePrefix"),
      `expected 1 to 40 bytes without spaces, NULs or colons, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function host(value: unknown): string {
  if (typeof value !== "string" || value === "")
    throw new ArgumentError(option("host"), `expected an address such as 127.0.0.1, got ${JSON.stringify(value)}`);
  return value;
}

function socketPath(value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== "string" || !path.isAbsolute(value)))
    throw new ArgumentError(
      option("path"),
      `expected an absolute path for the Unix socket, got ${JSON.stringify(value)}`,
    );
  return value as string | undefined;
}

function queueFile(value: unknown): string | undefined {
  if (value !== undefined && (typeof value !== "string" || value === ""))
    throw new ArgumentError(option("queueFile"), `expected a file path, got ${JSON.stringify(value)}`);
  return value as string | undefined;
}

function flag(name: string, value: unknown): boolean {
  if (value !== undefined && typeof value !== "boolean")
    throw new ArgumentError(option(name), `expected true or false, got ${JSON.stringify(value)}`);
  return (value as boolean | undefined) ?? false;
}

function log(value: unknown): (line: string) => void {
  if (value !== undefined && typeof value !== "function")
    throw new ArgumentError(option("log"), `expected a function taking a line, got ${typeof value}`);
  return (value as ((line: string) => void) | undefined) ?? (() => {});
}

function tlsOptions(value: JobServerOptions["tls"]): JobServerOptions["tls"] {
  if (value === undefined) return undefined;
  if (!value || !value.cert || !value.key)
    throw new ArgumentError(
      option("tls"),
      "expected { cert, key } (PEM), and optionally ca to require client certificates",
    );
  return Object.freeze({ ...value });
}

/** Checks every option once (ArgumentError naming the first bad one) and fills in the defaults. */
export function fillServerOptions(options: JobServerOptions, hostname: string): FilledServerOptions {
  if (options === null || typeof options !== "object")
    throw new ArgumentError(
      "JobServer options",
      `expected an object, got ${options === null ? "null" : typeof options}`,
    );
  return Object.freeze({
    host: host(options.host ?? "127.0.0.1"),
    port: whole("port", options.port ?? 4730, 0, 65535),
    path: socketPath(options.path),
    jobRetries: whole("jobRetries", options.jobRetries ?? 0, 0),
    queueFile: queueFile(options.queueFile),
    queueFsync: flag("queueFsync", options.queueFsync),
    maxPacketSize: whole("maxPacketSize", options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE, 64),
    maxConnections: whole("maxConnections", options.maxConnections ?? 10_000, 1),
    maxQueue: whole("maxQueue", options.maxQueue ?? 0, 0),
    writeHighWater: whole("writeHighWater", options.writeHighWater ?? 1024 * 1024, 1),
    writeLimit: whole("writeLimit", options.writeLimit ?? 256 * 1024 * 1024, 1),
    handlePrefix: prefix(options.handlePrefix ?? Buffer.from(hostname).subarray(0, 40).toString()),
    log: log(options.log),
    tls: tlsOptions(options.tls),
  });
}
