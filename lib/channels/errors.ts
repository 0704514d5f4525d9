/** Every error the channel layer raises besides bad arguments (ArgumentError). Each has a stable `code`. */

export type ChannelErrorCode = "BIND"; // a broker could not bind one of its addresses

export class ChannelError extends Error {
  override name = "ChannelError";
  constructor(
    readonly code: ChannelErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export const brokerCannotBind = (cause: unknown): ChannelError =>
  new ChannelError("BIND", `broker could not bind: ${(cause as Error)?.message ?? cause}`, { cause });
