/** The configuration layer's public part (also the package's "glimpse-cluster/config"): loading a cluster's configuration, and its error. */
export {
  loadConfig,
  clientSection,
  type ClusterConfig,
  type ClientConfig,
  type ServerConfig,
  type ConfigInput,
} from "./load-config.js";
export { ConfigError } from "./errors.js";
