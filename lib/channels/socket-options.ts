/** Where a channel socket goes: bind (it owns the address) or connect (to a broker or a binding peer). */
export interface Endpoint {
  readonly url: string;
  readonly bind: boolean;
}

/** ZeroMQ wants "*" for "pick a free port"; users and configs say 0. */
export function zmqUrl(url: string): string {
  return url.replace(/^(tcp:\/\/.+):0$/, "$1:*");
}
