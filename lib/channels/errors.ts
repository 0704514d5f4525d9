/** Every error the channel layer raises besides bad arguments (ArgumentError). Each has a stable `code`. */

export type ChannelErrorCode = "BIND"; // a broker could not bind one of its addresses

export class ChannelError extends Error {
  override name = "ChannelError";
  constructor(
    readonly code: ChannelErrorCode,
    message: string,
    options?: ErrorOptions & { readonly endpoint?: string },
  ) {
    super(message, options);
    this.endpoint = options?.endpoint;
  }
  /** The endpoint it concerns (BIND: the one that could not be bound). */
  readonly endpoint: string | undefined;
}

export const brokerCannotBind = (endpoint: string, cause: unknown): ChannelError =>
  new ChannelError("BIND", `broker could not bind ${endpoint}: ${(cause as Error)?.message ?? cause}`, {
    cause,
    endpoint,
  });
