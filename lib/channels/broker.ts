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
import { bindRetrying } from "./socket-options.js";
import { applyCurve, releaseCurve, type CurveSettings } from "../security/curve.js";
import { func, object, optionsSchema, text, type RulesOf } from "../options-schema.js";
import { brokerCannotBind } from "./errors.js";

/** Where the broker binds (a [server] section's four URLs; port 0 picks a free one). */
export interface BrokerUrls {
  /** Clients publish commands here (XSUB). */
  readonly commandFrontendUrl: string;
  /** Worker nodes subscribe to commands here (XPUB). */
  readonly commandBackendUrl: string;
  /** Worker nodes publish log messages here (XSUB). */
  readonly logFrontendUrl: string;
  /** Clients subscribe to log messages here (XPUB). */
  readonly logBackendUrl: string;
}

export interface BrokerOptions {
  /** The cluster's CURVE keys: every bound socket admits only peers holding them. None: plain TCP. */
  readonly curve?: CurveSettings;
}

const endpoint = text("a ZeroMQ endpoint such as tcp://127.0.0.1:9000");
const URLS = optionsSchema(
  "Broker",
  {
    commandFrontendUrl: endpoint,
    commandBackendUrl: endpoint,
    logFrontendUrl: endpoint,
    logBackendUrl: endpoint,
  } satisfies RulesOf<BrokerUrls>,
  "url",
);
const OPTIONS = optionsSchema("Broker", {
  curve: object({ publicKey: text(), secretKey: text(), onRefused: func().optional() }).optional(),
} satisfies RulesOf<BrokerOptions>);

export class Broker {
  private proxies: zmq.Proxy[] = [];
  /** Each bound socket with the endpoint it bound (read at bind time: a terminated proxy's sockets cannot be asked). */
  private boundSockets: { socket: zmq.XSubscriber | zmq.XPublisher; endpoint: string }[] = [];
  private runs: Promise<void>[] = [];
  private bound: BrokerUrls | undefined;
  private readonly urls: BrokerUrls;
  private readonly options: BrokerOptions;

  constructor(urls: BrokerUrls, options: BrokerOptions = {}) {
    this.urls = URLS.fill(urls);
    this.options = OPTIONS.fill(options);
  }

  /** The endpoints actually bound (port 0 resolved), after start(). */
  get endpoints(): BrokerUrls | undefined {
    return this.bound;
  }

  /**
   * Binds both forwarders and starts forwarding. Resolves with the bound
   * endpoints; rejects with ChannelError BIND naming the endpoint that could
   * not be bound (its `endpoint`; the ZeroMQ error is its `cause`).
   */
  async start(): Promise<BrokerUrls> {
    const forwarder = async (frontend: string, backend: string): Promise<[string, string]> => {
      const proxy = new zmq.Proxy(new zmq.XSubscriber({ linger: 0 }), new zmq.XPublisher({ linger: 0 }));
      this.proxies.push(proxy);
      if (this.options.curve) {
        applyCurve(proxy.frontEnd, this.options.curve, "bind");
        applyCurve(proxy.backEnd, this.options.curve, "bind");
      }
      await bindRetrying(proxy.frontEnd, frontend).catch((error) => {
        throw brokerCannotBind(frontend, error);
      });
      const front = proxy.frontEnd.lastEndpoint ?? frontend;
      this.boundSockets.push({ socket: proxy.frontEnd, endpoint: front });
      await bindRetrying(proxy.backEnd, backend).catch((error) => {
        throw brokerCannotBind(backend, error);
      });
      const back = proxy.backEnd.lastEndpoint ?? backend;
      this.boundSockets.push({ socket: proxy.backEnd, endpoint: back });
      this.runs.push(proxy.run().catch(() => {}));
      return [front, back];
    };
    try {
      const [commandFrontendUrl, commandBackendUrl] = await forwarder(
        this.urls.commandFrontendUrl,
        this.urls.commandBackendUrl,
      );
      const [logFrontendUrl, logBackendUrl] = await forwarder(this.urls.logFrontendUrl, this.urls.logBackendUrl);
      this.bound = Object.freeze({ commandFrontendUrl, commandBackendUrl, logFrontendUrl, logBackendUrl });
      return this.bound;
    } catch (error) {
      await this.close();
      throw error;
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
