/**
 * The HTTP side of Prometheus metrics: `GET /metrics` answers a registry's
 * text exposition; anything else is 404. Bound to 127.0.0.1 unless a host is
 * given: figures about a cluster are for its operators.
 */
import http from "node:http";
import type net from "node:net";
import type { Registry } from "prom-client";
import { optionsSchema, text, whole, type RulesOf } from "../options-schema.js";

export interface MetricsEndpointOptions {
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** Address to listen on. Default 127.0.0.1. */
  readonly host?: string;
}

export interface MetricsEndpoint {
  /** Where it listens, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What a scrape reads: a prom-client registry, or anything that writes the text exposition. */
export type MetricsSource = Pick<Registry, "metrics" | "contentType">;

const ENDPOINT = optionsSchema("metrics", {
  port: whole(0, 65535),
  host: text("an address such as 127.0.0.1").default("127.0.0.1"),
} satisfies RulesOf<MetricsEndpointOptions>);

/** The port and host checked (ArgumentError naming the bad one), the host defaulted to 127.0.0.1. */
export function checkEndpointOptions(options: MetricsEndpointOptions): {
  readonly port: number;
  readonly host: string;
} {
  return ENDPOINT.fill(options);
}

export async function serveMetrics(source: MetricsSource, options: MetricsEndpointOptions): Promise<MetricsEndpoint> {
  const { port, host } = checkEndpointOptions(options);
  const server = http.createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("only GET /metrics here\n");
      return;
    }
    source.metrics().then(
      (text) =>
        response
          .writeHead(200, { "content-type": source.contentType })
          .end(request.method === "HEAD" ? undefined : text),
      (error: Error) =>
        response
          .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
          .end(`collecting metrics failed: ${error.message}\n`),
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${shown}:${address.port}/metrics`,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
