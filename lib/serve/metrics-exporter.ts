/** `--exporter_addr HOST:PORT`: an HTTP server answering GET /metrics with serve's Prometheus text (Driveshaft 0.7's exporter). */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ServeMetrics } from "./serve-metrics.js";

export class MetricsExporter {
  private readonly server: http.Server;

  constructor(private readonly metrics: ServeMetrics) {
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: GET /metrics\n");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { "content-type": "text/plain; charset=utf-8", allow: "GET, HEAD" }).end();
        return;
      }
      this.metrics.text().then(
        (body) =>
          res
            .writeHead(200, { "content-type": this.metrics.contentType })
            .end(req.method === "HEAD" ? undefined : body),
        (error: Error) => res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end(`${error.message}\n`),
      );
    });
    this.server.on("clientError", (_error, socket) => socket.destroy());
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
