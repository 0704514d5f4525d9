/**
 * The dashboard's web server: the page and its assets (shipped in the
 * package's dashboard/ folder, nothing from the internet), and a stream of
 * server-sent events carrying the whole DashboardSnapshot every interval.
 *
 *   GET /                         the page (dashboard/index.html)
 *   GET /dashboard.js, .css, .svg its assets
 *   GET /events                   text/event-stream: a "snapshot" event every interval (1 s)
 *   GET /api/snapshot             the same snapshot once, as JSON
 *   POST /api/nodes/ID/ACTION     restart, quit, drain or online one node; only with allowControl,
 *                                 from this page's origin, as JSON (a form on another site cannot send it);
 *                                 404 at once for a node the page does not show
 *
 *   every interval: ping the nodes + admin status of every job server (one kept connection each) ──► DashboardState ──► SSE clients
 *                   + channel ends not reached, servers not answering, stale jobs: warnings ──────┤
 *   log channel (records, pongs, maps' progress, a failed map's reason) ──────────────────────────┘
 */
import http from "node:http";
import type net from "node:net";
import { readFileSync } from "node:fs";
import type { ClusterControl } from "../control/cluster-control.js";
import type { NodeAction } from "../control/command-client.js";
import { DashboardState } from "./dashboard-state.js";
import { JobServerWatch } from "./job-server-watch.js";
import { dashboardWarnings } from "./dashboard-warnings.js";
import { fillDashboardOptions, type DashboardOptions, type FilledDashboardOptions } from "./dashboard-options.js";

/** The assets' folder: dashboard/ at the package's root (this file runs from dist/lib/dashboard). */
const ASSETS = new URL("../../../dashboard/", import.meta.url);
const FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  "/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
  "/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};
const ACTIONS = new Set(["restart", "quit", "drain", "online"]);
/** How long the channel ends may take to connect before their absence is a warning. */
const CONNECT_GRACE_MS = 2000;
/** How long an action from the page waits for the node's acknowledgement. */
const CONTROL_WAIT_MS = 5000;

export class Dashboard {
  private readonly state: DashboardState;
  private readonly clients = new Set<http.ServerResponse>();
  private readonly assets = new Map<string, { body: Buffer; type: string }>();
  private readonly stopWatching: () => void;
  private pushTimer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly control: ClusterControl,
    private readonly options: FilledDashboardOptions,
    private readonly server: http.Server,
    /** One admin connection per job server, kept between polls. */
    private readonly jobServers: JobServerWatch,
    /** Where the page is, e.g. http://127.0.0.1:8787/ */
    readonly url: string,
  ) {
    this.state = new DashboardState(options.allowControl, options.signed);
    for (const [path, { file, type }] of Object.entries(FILES))
      this.assets.set(path, { body: readFileSync(new URL(file, ASSETS)), type });
    this.stopWatching = control.log.watch((envelope) => this.state.heard(envelope));
    control.log.hearRecords();
    server.on("request", (request, response) => this.handle(request, response));
  }

  /** Starts the page on a cluster's channels (a ClusterControl opened with watchProgress, or a pool's own). Throws ArgumentError for a bad option. */
  static async start(control: ClusterControl, input: DashboardOptions): Promise<Dashboard> {
    const options = fillDashboardOptions(input);
    // Before listening: a job server address that does not parse is the caller's error, with nothing to clean up.
    const jobServers = new JobServerWatch(options.jobServers, options.tls, options.intervalMs, (server) =>
      control.nodes.admin(server),
    );
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as net.AddressInfo;
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const dashboard = new Dashboard(control, options, server, jobServers, `http://${shown}:${address.port}/`);
    dashboard.run();
    return dashboard;
  }

  private run(): void {
    const started = Date.now();
    const poll = async () => {
      const [servers] = await Promise.all([
        this.jobServers.status(),
        // With a channel end not reached the ping fails (after waiting up to 2 s for it): the warnings say why.
        this.control.commands.ping(Math.round(this.options.intervalMs * 0.8)).catch(() => []),
      ]);
      // An end still connecting is not a warning in the first seconds: the ping waited 2 s for it already.
      const unreached = [this.control.commands.end, this.control.log.end].filter(
        (end) => !end.reached && (end.trouble !== "pending" || Date.now() - started >= CONNECT_GRACE_MS),
      );
      this.state.setJobServers(servers, dashboardWarnings(unreached, servers));
    };
    const loop = async () => {
      while (!this.closed) {
        const began = Date.now();
        await poll().catch(() => {});
        const wait = this.options.intervalMs - (Date.now() - began);
        if (wait > 0 && !this.closed) await new Promise((resolve) => setTimeout(resolve, wait).unref());
      }
    };
    this.polling = loop();
    this.pushTimer = setInterval(() => this.push(), this.options.intervalMs);
    this.pushTimer.unref();
  }

  private push(): void {
    this.state.tick();
    if (this.clients.size === 0) return;
    const frame = `event: snapshot\ndata: ${JSON.stringify(this.state.snapshot())}\n\n`;
    for (const client of this.clients) client.write(frame);
  }

  private handle(request: http.IncomingMessage, response: http.ServerResponse): void {
    const path = (request.url ?? "/").split("?")[0];
    const asset = this.assets.get(path);
    if (request.method === "GET" && asset) {
      response
        .writeHead(200, {
          "content-type": asset.type,
          "cache-control": "no-cache",
          "x-content-type-options": "nosniff",
        })
        .end(asset.body);
      return;
    }
    if (request.method === "GET" && path === "/events") return this.stream(request, response);
    if (request.method === "GET" && path === "/api/snapshot") {
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(this.state.snapshot()));
      return;
    }
    const control = /^\/api\/nodes\/([^/]+)\/([a-z]+)$/.exec(path);
    if (request.method === "POST" && control)
      return void this.command(request, response, decodeURIComponent(control[1]), control[2]);
    response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
  }

  private stream(request: http.IncomingMessage, response: http.ServerResponse): void {
    response.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    });
    response.write(`retry: 2000\nevent: snapshot\ndata: ${JSON.stringify(this.state.snapshot())}\n\n`);
    this.clients.add(response);
    request.once("close", () => this.clients.delete(response));
  }

  private async command(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    nodeId: string,
    action: string,
  ): Promise<void> {
    const answer = (status: number, body: object): void =>
      void response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    request.resume();
    if (!this.options.allowControl)
      return answer(403, { error: "this dashboard is read-only (start it with --allow-control)" });
    if (!ACTIONS.has(action)) return answer(404, { error: `no action ${action} (restart, quit, drain or online)` });
    const origin = request.headers.origin;
    if (
      !(request.headers["content-type"] ?? "").startsWith("application/json") ||
      (origin !== undefined && origin !== `http://${request.headers.host}`)
    ) {
      return answer(403, { error: "control requests come from the dashboard's own page" });
    }
    // Only a node the page shows: another id would wait CONTROL_WAIT_MS for an answer that cannot come.
    if (!this.state.hasNode(nodeId)) return answer(404, { error: `no live worker node ${nodeId}` });
    let acknowledged: boolean;
    try {
      acknowledged = await this.control.commands.commandNode(nodeId, action as NodeAction, CONTROL_WAIT_MS);
    } catch (error) {
      return answer(503, { error: (error as Error).message });
    }
    answer(
      acknowledged ? 200 : 504,
      acknowledged
        ? { node: nodeId, action }
        : { error: `node ${nodeId} did not acknowledge ${action} within ${CONTROL_WAIT_MS / 1000} s` },
    );
  }

  /** Ends the event streams and the server; the ClusterControl stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pushTimer);
    this.stopWatching();
    for (const client of this.clients) client.end();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.polling;
    await this.jobServers.close();
  }
}
