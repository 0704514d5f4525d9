/**
 * Job server addresses: `host:port`, `host` (port 4730), `[v6]:port`, optionally prefixed `gearman://`,
 * or `unix:/absolute/path` for a job server listening on a Unix socket (gearmand cannot; the embedded
 * server can, and the local cluster uses one in a private directory).
 */
import path from "node:path";
import { ArgumentError } from "../argument-error.js";

export const DEFAULT_PORT = 4730;

export interface ServerAddress {
  /** "localhost" for a Unix socket. */
  readonly host: string;
  /** 0 for a Unix socket. */
  readonly port: number;
  /** The Unix socket's absolute path; absent for TCP. */
  readonly path?: string;
}

function unixAddress(socketPath: string, text: string): ServerAddress | string {
  if (!path.isAbsolute(socketPath))
    return `${JSON.stringify(text)}: a Unix socket address needs an absolute path (unix:/dir/jobs.sock)`;
  return Object.freeze({ host: "localhost", port: 0, path: socketPath });
}

/** Parses one address; a bad one is an ArgumentError named `argument`. */
export function parseAddress(text: string, argument = "job server address"): ServerAddress {
  const address = readAddress(text);
  if (typeof address === "string") throw new ArgumentError(argument, address);
  return address;
}

/** One address, or what is wrong with it (for callers that report problems their own way, such as config files). */
export function readAddress(text: unknown): ServerAddress | string {
  if (typeof text !== "string") return `expected "host:port", got ${typeof text}`;
  const trimmed = text.trim();
  if (trimmed.startsWith("unix:")) return unixAddress(trimmed.slice("unix:".length), text);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed)?.[1];
  if (scheme !== undefined && scheme.toLowerCase() !== "gearman")
    return `${JSON.stringify(text)}: a job server is not reached over ${scheme}://; write host:port (or gearman://host:port)`;
  const raw = trimmed.replace(/^gearman:\/\//i, "").replace(/\/$/, "");
  if (raw === "") return "an address is empty";
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const parts = raw.split(":");
    if (parts.length > 2) return `${JSON.stringify(text)} is not host:port (write IPv6 as [addr]:port)`;
    host = parts[0];
    portText = parts[1];
  }
  if (host === "") return `${JSON.stringify(text)} has no host`;
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return `${JSON.stringify(text)} has a bad port: expected 1-65535`;
  return Object.freeze({ host, port });
}

/** Accepts one address, a comma-separated list, or an array of either; errors are ArgumentErrors named `argument`. */
export function parseAddressList(
  spec: string | readonly (string | ServerAddress)[],
  argument = "job servers",
): ServerAddress[] {
  if (typeof spec !== "string" && !Array.isArray(spec))
    throw new ArgumentError(
      argument,
      `expected "host:port", a comma-separated list or an array of them, got ${typeof spec}`,
    );
  const items = typeof spec === "string" ? spec.split(",") : spec;
  const out = items
    .filter((item) => typeof item !== "string" || item.trim() !== "")
    .map((item) => (typeof item === "string" ? parseAddress(item, argument) : checkedAddress(item, argument)));
  if (out.length === 0) throw new ArgumentError(argument, "no job server address given");
  return out;
}

function checkedAddress(item: unknown, argument: string): ServerAddress {
  const address = item as Partial<ServerAddress> | null;
  if (address !== null && typeof address === "object" && address.path !== undefined) {
    const unix =
      typeof address.path === "string" ? unixAddress(address.path, `unix:${address.path}`) : "path: expected a string";
    if (typeof unix === "string") throw new ArgumentError(argument, unix);
    return unix;
  }
  if (
    address === null ||
    typeof address !== "object" ||
    typeof address.host !== "string" ||
    address.host === "" ||
    !Number.isInteger(address.port) ||
    address.port! < 1 ||
    address.port! > 65535
  ) {
    throw new ArgumentError(argument, `expected "host:port", { host, port } or { path }, got ${JSON.stringify(item)}`);
  }
  return Object.freeze({ host: address.host, port: address.port! });
}

export function formatAddress(address: ServerAddress): string {
  if (address.path !== undefined) return `unix:${address.path}`;
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
