/** Job server addresses: `host:port`, `host` (port 4730), `[v6]:port`, optionally prefixed `gearman://`. */

export const DEFAULT_PORT = 4730;

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export function parseAddress(text: string): ServerAddress {
  const raw = text.trim().replace(/^gearman:\/\//, "").replace(/\/$/, "");
  if (raw === "") throw new TypeError(`job server address is empty`);
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const parts = raw.split(":");
    if (parts.length > 2) throw new TypeError(`job server address "${text}" is not host:port (write IPv6 as [addr]:port)`);
    host = parts[0];
    portText = parts[1];
  }
  if (host === "") throw new TypeError(`job server address "${text}" has no host`);
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`job server address "${text}" has a bad port: expected 1-65535`);
  }
  return Object.freeze({ host, port });
}

/** Accepts one address, a comma-separated list, or an array of either. */
export function parseAddressList(spec: string | readonly (string | ServerAddress)[]): ServerAddress[] {
  const items = typeof spec === "string" ? spec.split(",") : spec;
  const out = items
    .filter((item) => typeof item !== "string" || item.trim() !== "")
    .map((item) => (typeof item === "string" ? parseAddress(item) : item));
  if (out.length === 0) throw new TypeError("no job server address given");
  return out;
}

export function formatAddress(address: ServerAddress): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
