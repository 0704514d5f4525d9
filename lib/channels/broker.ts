/**
 * The broker: two ZeroMQ forwarders, so clients and workers only need to know
 * its address. Commands: clients' PUB → command frontend (XSUB) → command
 * backend (XPUB) → workers' SUB. Logs: workers' PUB → log frontend (XSUB) →
 * log backend (XPUB) → clients' SUB. Subscriptions flow the other way.
 * With the cluster's CURVE keys every bound socket is a CURVE server that
 * admits only peers holding them; messages pass through as they are (signed
 * messages stay signed: the broker needs no cluster secret).
 */
import * as zmq from "zeromq";
import { zmqUrl } from "./socket-options.js";
import { applyCurve, releaseCurve, type CurveSettings } from "../security/index.js";

export interface BrokerUrls {
  readonly commandFrontendUrl: string;
  readonly commandBackendUrl: string;
  readonly logFrontendUrl: string;
  readonly logBackendUrl: string;
}

export class Broker {
  private proxies: zmq.Proxy[] = [];
  /** Each bound socket with the endpoint it bound (read at bind time: a terminated proxy's sockets cannot be asked). */
  private boundSockets: { socket: zmq.XSubscriber | zmq.XPublisher; endpoint: string }[] = [];
  private runs: Promise<void>[] = [];
  private bound: BrokerUrls | undefined;

  constructor(
    private readonly urls: BrokerUrls,
    private readonly options: { readonly curve?: CurveSettings } = {},
  ) {}

  /** The endpoints actually bound (port 0 resolved), after start(). */
  get endpoints(): BrokerUrls | undefined {
    return this.bound;
  }

  /** Binds both forwarders and starts forwarding. Resolves with the bound endpoints. */
  async start(): Promise<BrokerUrls> {
    const forwarder = async (frontend: string, backend: string): Promise<[string, string]> => {
      const proxy = new zmq.Proxy(new zmq.XSubscriber({ linger: 0 }), new zmq.XPublisher({ linger: 0 }));
      this.proxies.push(proxy);
      if (this.options.curve) {
        applyCurve(proxy.frontEnd, this.options.curve, "bind");
        applyCurve(proxy.backEnd, this.options.curve, "bind");
      }
      await bindRetrying(proxy.frontEnd, frontend);
      const front = proxy.frontEnd.lastEndpoint ?? frontend;
      this.boundSockets.push({ socket: proxy.frontEnd, endpoint: front });
      await bindRetrying(proxy.backEnd, backend);
      const back = proxy.backEnd.lastEndpoint ?? backend;
      this.boundSockets.push({ socket: proxy.backEnd, endpoint: back });
      this.runs.push(proxy.run().catch(() => {}));
      return [front, back];
    };
    try {
      const [commandFrontendUrl, commandBackendUrl] = await forwarder(this.urls.commandFrontendUrl, this.urls.commandBackendUrl);
      const [logFrontendUrl, logBackendUrl] = await forwarder(this.urls.logFrontendUrl, this.urls.logBackendUrl);
      this.bound = Object.freeze({ commandFrontendUrl, commandBackendUrl, logFrontendUrl, logBackendUrl });
      return this.bound;
    } catch (error) {
      await this.close();
      throw new Error(`broker could not bind: ${(error as Error).message}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies) {
      try {
        proxy.terminate();
      } catch {
        // not running yet
      }
    }
    await Promise.all(this.runs);
    // Unbind first and wait for it: close() alone frees the ports later, and a broker started again
    // on the same addresses would fail with "Address already in use".
    await Promise.all(
      this.boundSockets.map(async ({ socket, endpoint }) => {
        try {
          await socket.unbind(endpoint);
        } catch {
          // already closed by the proxy
        }
      }),
    );
    for (const { socket } of this.boundSockets) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
    for (let i = 0; i < this.proxies.length * 2; i++) releaseCurve(this.options.curve, "bind");
    this.boundSockets = [];
    this.proxies = [];
    this.runs = [];
  }
}

/**
 * Binds, retrying for up to 2 s while the address is still held: ZeroMQ frees a
 * closed socket's port a little after close(), so a broker restarted at once on
 * the same addresses would otherwise fail.
 */
async function bindRetrying(socket: zmq.XSubscriber | zmq.XPublisher, url: string): Promise<void> {
  const deadline = Date.now() + 2000;
  for (;;) {
    try {
      return await socket.bind(zmqUrl(url));
    } catch (error) {
      if ((error as { code?: string }).code !== "EADDRINUSE" || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
