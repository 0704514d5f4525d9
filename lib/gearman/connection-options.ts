/**
 * The options every connection to a job server takes (servers, clientId,
 * packet size, reconnect backoff, connect timeout, TLS, a stream opener),
 * shared by GearmanClient, GearmanWorker and AdminClient. Each check throws
 * an ArgumentError naming its owner and option, e.g.
 * `GearmanClient option connectTimeoutMs: expected a whole number ≥ 1, got 0`.
 */
import { ArgumentError, wholeNumber } from "../argument-error.js";
import { parseAddressList, type ServerAddress } from "./address.js";
import { DEFAULT_RECONNECT, type ReconnectOptions } from "./connection.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";

/** `options` must be an object; `what` says what it must hold, for the message. */
export function checkOptionsObject(owner: string, options: unknown, what: string): asserts options is object {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ArgumentError(
      `${owner} options`,
      `expected an object${what}, got ${options === null ? "null" : Array.isArray(options) ? "an array" : typeof options}`,
    );
  }
}

/** Every key of `options` must be one of `known` (a misspelt option is an error, not a silent default). */
export function checkKnownKeys(owner: string, options: object, known: readonly string[]): void {
  for (const key in options) {
    if (!known.includes(key))
      throw new ArgumentError(`${owner} option ${key}`, `unknown option; known options: ${known.join(", ")}`);
  }
}

export function serversOption(owner: string, value: unknown): readonly ServerAddress[] {
  return Object.freeze(parseAddressList(value as string | readonly string[], `${owner} option servers`));
}

/** SET_CLIENT_ID: one word, as gearmand's space-separated `workers` listing needs. */
export function clientIdOption(owner: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || /[\0\s]/.test(value)) {
    throw new ArgumentError(
      `${owner} option clientId`,
      `expected a non-empty string without spaces or NUL, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function wholeOption(owner: string, name: string, value: unknown, min: number, fallback: number): number {
  return value === undefined ? fallback : wholeNumber(`${owner} option ${name}`, value, min);
}

export function booleanOption(owner: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean")
    throw new ArgumentError(`${owner} option ${name}`, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

export function reconnectOption(owner: string, value: unknown): ReconnectOptions | false {
  if (value === undefined) return DEFAULT_RECONNECT;
  if (value === false) return false;
  const name = `${owner} option reconnect`;
  if (value === null || typeof value !== "object")
    throw new ArgumentError(name, `expected false or { initialDelayMs, maxDelayMs }, got ${JSON.stringify(value)}`);
  checkKnownKeys(name, value, ["initialDelayMs", "maxDelayMs"]);
  const { initialDelayMs, maxDelayMs } = value as Partial<ReconnectOptions>;
  const initial = wholeNumber(`${name} initialDelayMs`, initialDelayMs ?? DEFAULT_RECONNECT.initialDelayMs, 1);
  const max = wholeNumber(`${name} maxDelayMs`, maxDelayMs ?? Math.max(initial, DEFAULT_RECONNECT.maxDelayMs), initial);
  return Object.freeze({ initialDelayMs: initial, maxDelayMs: max });
}

export function tlsOption(owner: string, value: unknown): GearmanTlsOptions | undefined {
  if (value === undefined) return undefined;
  const name = `${owner} option tls`;
  if (value === null || typeof value !== "object")
    throw new ArgumentError(name, `expected an object ({ ca, cert, key, servername }), got ${JSON.stringify(value)}`);
  checkKnownKeys(name, value, ["ca", "cert", "key", "servername"]);
  const tls = value as Record<string, unknown>;
  for (const key of ["ca", "cert", "key"]) {
    const pem = tls[key];
    if (pem !== undefined && typeof pem !== "string" && !Buffer.isBuffer(pem))
      throw new ArgumentError(`${name} ${key}`, `expected PEM text (a string or Buffer), got ${typeof pem}`);
  }
  if ((tls.cert === undefined) !== (tls.key === undefined))
    throw new ArgumentError(name, "cert and key go together: give both or neither");
  if (tls.servername !== undefined && (typeof tls.servername !== "string" || tls.servername === "")) {
    throw new ArgumentError(`${name} servername`, `expected a host name, got ${JSON.stringify(tls.servername)}`);
  }
  return Object.freeze({ ...(tls as GearmanTlsOptions) });
}

export function openOption(owner: string, value: unknown): StreamOpener | undefined {
  if (value !== undefined && typeof value !== "function")
    throw new ArgumentError(
      `${owner} option open`,
      `expected a function returning a stream (or undefined), got ${typeof value}`,
    );
  return value as StreamOpener | undefined;
}
