/**
 * Every error the Gearman layer raises. Each carries a stable `code` so that
 * callers can branch without parsing messages.
 */

export type GearmanErrorCode =
  | "PROTOCOL" // a peer sent bytes that are not valid Gearman
  | "PACKET_TOO_LARGE" // a packet over the configured maximum
  | "CONNECTION" // a connection failed or closed
  | "NO_SERVER" // no job server could be reached
  | "SERVER_ERROR" // the server answered with an ERROR packet
  | "JOB_FAILED" // WORK_FAIL
  | "JOB_EXCEPTION" // WORK_EXCEPTION
  | "TIMEOUT" // a job or request took longer than allowed
  | "ABORTED" // the caller's AbortSignal fired
  | "ADMIN" // an ERR reply to a text admin command
  | "CLOSED"; // the object was closed

export class GearmanError extends Error {
  readonly code: GearmanErrorCode;
  constructor(code: GearmanErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GearmanError";
    this.code = code;
  }
}

/** The server (or a peer) answered with an ERROR packet: `serverCode` is its code field. */
export class ServerError extends GearmanError {
  readonly serverCode: string;
  constructor(serverCode: string, text: string, context?: string) {
    super("SERVER_ERROR", `${context ? context + ": " : ""}server error ${serverCode}: ${text}`);
    this.name = "ServerError";
    this.serverCode = serverCode;
  }
}

/** A job ended in WORK_FAIL or WORK_EXCEPTION. `exception` holds the worker's payload for the latter. */
export class JobError extends GearmanError {
  readonly handle: string | undefined;
  readonly func: string;
  readonly exception: Buffer | undefined;
  constructor(func: string, handle: string | undefined, exception?: Buffer, attempts = 1) {
    const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
    super(
      exception ? "JOB_EXCEPTION" : "JOB_FAILED",
      exception
        ? `job ${handle ?? "?"} (${func}) raised an exception${tries}: ${exception.toString("utf8").slice(0, 500)}`
        : `job ${handle ?? "?"} (${func}) failed${tries}`,
    );
    this.name = "JobError";
    this.handle = handle;
    this.func = func;
    this.exception = exception;
  }
}

/** An admin command got an `ERR code message` reply. */
export class AdminError extends GearmanError {
  readonly errCode: string;
  constructor(command: string, errCode: string, text: string) {
    super("ADMIN", `admin command "${command}" failed: ERR ${errCode} ${text}`);
    this.name = "AdminError";
    this.errCode = errCode;
  }
}

export const protocolError = (message: string, peer?: string): GearmanError =>
  new GearmanError("PROTOCOL", peer ? `${peer}: ${message}` : message);

export const packetTooLarge = (size: number, max: number, peer?: string): GearmanError =>
  new GearmanError(
    "PACKET_TOO_LARGE",
    `${peer ? peer + ": " : ""}packet of ${size} bytes exceeds the maximum of ${max} bytes (raise maxPacketSize if this is intended)`,
  );

export const connectionError = (address: string, message: string, cause?: unknown): GearmanError =>
  new GearmanError("CONNECTION", `${address}: ${message}`, cause === undefined ? undefined : { cause });

/** A job server as a NO_SERVER error names it: its address, and why it is not connected (undefined: not tried yet). */
export interface ServerTrouble {
  readonly name: string;
  readonly reason: string | undefined;
}

/**
 * "job glimpse_map: no job server reachable: js1:4730: connect ECONNREFUSED (...); js2:4730: connect
 * timed out ...": servers that failed alike share one reason ("js1:4730, js2:4730: connect ...").
 */
export function noServer(what: string, servers: readonly ServerTrouble[]): GearmanError {
  const byReason = new Map<string, string[]>();
  for (const { name, reason } of servers) {
    const key = reason ?? "not tried yet";
    const names = byReason.get(key);
    if (names) names.push(name);
    else byReason.set(key, [name]);
  }
  const listed = [...byReason].map(([reason, names]) => `${names.join(", ")}: ${reason}`).join("; ");
  return new GearmanError("NO_SERVER", `${what}: no job server reachable: ${listed || "none listed"}`);
}

/** What a failed connect says beyond the system's words, by error code: where to look. */
const CONNECT_HINTS: Readonly<Record<string, string>> = {
  ECONNREFUSED:
    "nothing listens there: is the job server running, and listening on an address this host can reach, not only on 127.0.0.1?",
  /** ECONNREFUSED from this very machine: the address is no other host's. */
  ECONNREFUSED_LOCAL: "nothing listens there: is the job server running, on that port?",
  EHOSTUNREACH: "no route to that host: it is down, or the network to it is",
  ENETUNREACH: "no route to that network from this host",
  ENOTFOUND: "no such host name",
  EAI_AGAIN: "the host name could not be resolved (DNS did not answer)",
  ETIMEDOUT: "no answer: the host is down, or a firewall drops the packets",
};

/**
 * A connection attempt to `address` failed with `error` (a system error):
 * its message without the address when it is the one given, and what the
 * code means, e.g. "10.0.0.5:4730: connect ECONNREFUSED (nothing listens there: ...)".
 */
export function connectFailed(address: string, error: Error & { code?: string }): GearmanError {
  let text = error.message;
  const bare = address.startsWith("unix:") ? address.slice("unix:".length) : address;
  if (text.endsWith(` ${bare}`)) text = text.slice(0, -bare.length - 1);
  const local = error.code === "ECONNREFUSED" && /^(127\.|localhost:|\[::1\]|::1|unix:)/.test(address);
  const hint = error.code === undefined ? undefined : CONNECT_HINTS[local ? "ECONNREFUSED_LOCAL" : error.code];
  return connectionError(address, hint ? `${text} (${hint})` : text, error);
}

/** A connection attempt got no answer within `ms`. */
export const connectTimedOut = (address: string, ms: number): GearmanError =>
  connectionError(address, `connect timed out after ${ms} ms (${CONNECT_HINTS.ETIMEDOUT})`);

export const timeoutError = (what: string, ms: number): GearmanError =>
  new GearmanError("TIMEOUT", `${what} timed out after ${ms} ms`);

export const abortedError = (what: string, reason?: unknown): GearmanError =>
  new GearmanError("ABORTED", `${what} was aborted`, reason === undefined ? undefined : { cause: reason });

export const closedError = (what: string): GearmanError => new GearmanError("CLOSED", `${what} is closed`);

/** An attempt's server connection was lost while it held the attempt. */
export const serverLost = (what: string, cause: GearmanError): GearmanError =>
  new GearmanError("CONNECTION", `${what} lost its job server: ${cause.message}`, { cause });

/** A job lost its server once more than its failovers allow; `last`: the last loss's cause. */
export const failoversExhausted = (what: string, failovers: number, last: GearmanError): GearmanError =>
  new GearmanError(
    "CONNECTION",
    `${what} lost its job server ${failovers === 1 ? "once" : `${failovers} times`}; last: ${last.message}`,
    { cause: last },
  );

/**
 * What went wrong talking to `server`, without naming it again: the
 * `server: ` that connectionError puts first goes, and so does the address
 * at the end of a system error's message when it is the server's own
 * ("127.0.0.1:4730: connect ECONNREFUSED 127.0.0.1:4730" → "connect
 * ECONNREFUSED"); an address the name resolved to stays, as it says more.
 */
export function reasonAt(server: string, error: unknown): string {
  let text = error instanceof Error ? error.message : String(error);
  if (text.startsWith(`${server}: `)) text = text.slice(server.length + 2);
  const bare = server.startsWith("unix:") ? server.slice("unix:".length) : server;
  if (text.endsWith(` ${bare}`)) text = text.slice(0, -bare.length - 1);
  return text;
}
