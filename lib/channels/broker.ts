/**
 * The broker: two ZeroMQ forwarders, so clients and workers only need to know
 * its address. Commands: clients' PUB → command frontend (XSUB) → command
 * backend (XPUB) → workers' SUB. Logs: workers' PUB → log frontend (XSUB) →
 * log backend (XPUB) → clients' SUB. Subscriptions flow the other way.
 */
import * as zmq from "zeromq";
import { zmqUrl } from "./socket-options.js";

export interface BrokerUrls {
  readonly commandFrontendUrl: string;
  readonly commandBackendUrl: string;
  readonly logFrontendUrl: string;
  readonly logBackendUrl: string;
}

export class Broker {
  private proxies: zmq.Proxy[] = [];
  private runs: Promise<void>[] = [];
  private bound: BrokerUrls | undefined;

  constructor(private readonly urls: BrokerUrls) {}

  /** The endpoints actually bound (port 0 resolved), after start(). */
  get endpoints(): BrokerUrls | undefined {
    return this.bound;
  }

  /** Binds both forwarders and starts forwarding. Resolves with the bound endpoints. */
  async start(): Promise<BrokerUrls> {
    const forwarder = async (frontend: string, backend: string): Promise<[string, string]> => {
      const proxy = new zmq.Proxy(new zmq.XSubscriber({ linger: 0 }), new zmq.XPublisher({ linger: 0 }));
      this.proxies.push(proxy);
      await proxy.frontEnd.bind(zmqUrl(frontend));
      await proxy.backEnd.bind(zmqUrl(backend));
      this.runs.push(proxy.run().catch(() => {}));
      return [proxy.frontEnd.lastEndpoint ?? frontend, proxy.backEnd.lastEndpoint ?? backend];
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
    for (const proxy of this.proxies) {
      proxy.frontEnd.close();
      proxy.backEnd.close();
    }
    this.proxies = [];
    this.runs = [];
  }
}
