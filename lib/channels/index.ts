/** The channel layer's public part: the broker, and what a worker node reports when pinged. */
export { Broker, type BrokerUrls, type BrokerOptions } from "./broker.js";
export { ChannelError, type ChannelErrorCode } from "./errors.js";
export type { NodeStatsSnapshot, NodeState } from "./messages.js";
