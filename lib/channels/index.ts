export * from "./messages.js";
export { Broker, type BrokerUrls } from "./broker.js";
export { QueuedPublisher } from "./publisher.js";
export { LoopingSubscriber } from "./subscriber.js";
export { zmqUrl, type Endpoint } from "./socket-options.js";
