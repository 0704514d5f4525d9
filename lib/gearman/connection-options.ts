/**
 * The option rules every connection to a job server takes (servers,
 * clientId, packet size, reconnect backoff, connect timeout, TLS, a stream
 * opener), shared by the schemas of GearmanClient, GearmanWorker and
 * AdminClient (lib/options-schema.ts), e.g.
 * `GearmanClient option connectTimeoutMs: expected a whole number ≥ 1, got 0`.
 */
import { ArgumentError } from "../argument-error.js";
import { REFUSED, Refusal, Rule, func, object, oneOf, text, whole } from "../options-schema.js";
import { parseAddressList, type ServerAddress } from "./address.js";
import { DEFAULT_RECONNECT, type ReconnectOptions } from "./connection.js";
import { DEFAULT_MAX_PACKET_SIZE } from "./packet.js";
import type { GearmanTlsOptions, StreamOpener } from "./transport.js";

/** "host:port" (or "unix:/path"), a comma-separated list, or an array of them (or of { host, port } / { path }). */
const servers = new Rule<readonly ServerAddress[]>(
  `"host:port", a comma-separated list or an array of them`,
  (value) => {
    try {
      return Object.freeze(parseAddressList(value as string));
    } catch (error) {
      if (error instanceof ArgumentError) return new Refusal(error.problem);
      throw error;
    }
  },
);

/** SET_CLIENT_ID: one word, as gearmand's space-separated `workers` listing needs. */
const clientId = text("a non-empty string without spaces or NUL").after((id) => (/[\0\s]/.test(id) ? REFUSED : id));

/** Backoff after a lost connection, each delay doubling up to maxDelayMs (which defaults to at least initialDelayMs). */
const reconnect = oneOf(false)
  .or(
    object({
      initialDelayMs: whole(1).default(DEFAULT_RECONNECT.initialDelayMs),
      maxDelayMs: whole(1).optional(),
    }).after(({ initialDelayMs, maxDelayMs }): ReconnectOptions | Refusal => {
      if (maxDelayMs === undefined)
        return Object.freeze({ initialDelayMs, maxDelayMs: Math.max(initialDelayMs, DEFAULT_RECONNECT.maxDelayMs) });
      if (maxDelayMs < initialDelayMs)
        return new Refusal(
          `expected a whole number ≥ ${initialDelayMs} (initialDelayMs), got ${maxDelayMs}`,
          "maxDelayMs",
        );
      return Object.freeze({ initialDelayMs, maxDelayMs });
    }),
  )
  .default(DEFAULT_RECONNECT);

const pem = new Rule<string | Buffer>("PEM text (a string or Buffer)", (value) =>
  typeof value === "string" || Buffer.isBuffer(value) ? value : REFUSED,
);

const tls = object(
  { ca: pem.optional(), cert: pem.optional(), key: pem.optional(), servername: text("a host name").optional() },
  "an object ({ ca, cert, key, servername })",
).after((value): GearmanTlsOptions | Refusal =>
  (value.cert === undefined) !== (value.key === undefined)
    ? new Refusal("cert and key go together: give both or neither")
    : value,
);

/** The rules, with their defaults; a client's or worker's schema takes those it has. */
export const CONNECTION_RULES = {
  servers,
  clientId: clientId.optional(),
  maxPacketSize: whole(1).default(DEFAULT_MAX_PACKET_SIZE),
  reconnect,
  connectTimeoutMs: whole(1).default(5000),
  tls: tls.optional(),
  open: func<StreamOpener>("a function returning a stream (or undefined)").optional(),
};
