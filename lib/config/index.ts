export { loadConfig, type ClusterConfig, type ClientConfig, type ServerConfig, type ConfigInput } from "./load-config.js";
export { ConfigError } from "./config-error.js";
export { KEYS } from "./keys.js";
