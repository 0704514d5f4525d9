/** Where a channel socket goes: bind (it owns the address) or connect (to a broker or a binding peer). */
export interface Endpoint {
  readonly url: string;
  readonly bind: boolean;
}

/** ZeroMQ wants "*" for "pick a free port"; users and configs say 0. */
export function zmqUrl(url: string): string {
  return url.replace(/^(tcp:\/\/.+):0$/, "$1:*");
}

/** Binds or connects a socket; returns the endpoint in use (after a bind, with the port ZeroMQ chose). */
export async function attach(socket: { bind(url: string): Promise<void>; connect(url: string): void; readonly lastEndpoint: string | null }, endpoint: Endpoint): Promise<string> {
  if (!endpoint.bind) {
    socket.connect(endpoint.url);
    return endpoint.url;
  }
  await socket.bind(zmqUrl(endpoint.url));
  return socket.lastEndpoint ?? endpoint.url;
}
