export * from "./messages.js";
export { Broker, type BrokerUrls } from "./broker.js";
export { QueuedPublisher, type PublisherSigning } from "./publisher.js";
export { LoopingSubscriber, type SubscriberChecking } from "./subscriber.js";
export { zmqUrl, type Endpoint } from "./socket-options.js";
