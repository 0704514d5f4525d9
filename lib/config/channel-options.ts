/**
 * A config's [client] section as the channels take it: the control plane's
 * options (ClusterControl), and the cluster's CURVE keys for every socket
 * (clients, worker nodes, the broker).
 *
 *   [client] job_server_url, command_*_url, log_*_url, secret, curve_*_key ──► ControlOptions
 *   frontend URL = backend URL (direct mode) ──► this client binds that channel; otherwise it connects to the broker
 */
import type { ClientConfig } from "./load-config.js";
import type { ControlOptions } from "../control/cluster-control.js";
import { ClusterKey } from "../security/cluster-key.js";
import type { CurveSettings } from "../security/curve.js";

/** The cluster's CURVE keys from a [client] section, if it has them; refused peers become process warnings. */
export function curveOf(client: ClientConfig): CurveSettings | undefined {
  if (client.curvePublicKey === undefined || client.curveSecretKey === undefined) return undefined;
  return {
    publicKey: client.curvePublicKey,
    secretKey: client.curveSecretKey,
    onRefused: (address) =>
      process.emitWarning(`refused a ZeroMQ connection from ${address}: it does not hold the cluster's CURVE key`, {
        code: "GLIMPSE_REFUSED",
      }),
  };
}

/** The client's side of the channels as a config's [client] section describes it. */
export function controlOptions(client: ClientConfig): ControlOptions {
  return {
    key: client.secret === undefined ? undefined : new ClusterKey(client.secret),
    signatureMaxAgeMs: client.signatureMaxAgeMs,
    curve: curveOf(client),
    tls: client.jobServerTls,
    jobServers: client.jobServers,
    // Direct mode (a channel's frontend and backend are one URL): this client binds it and workers connect.
    commandUrl: client.commandFrontendUrl,
    commandBind: client.commandFrontendUrl === client.commandBackendUrl,
    logUrl: client.logBackendUrl,
    logBind: client.logFrontendUrl === client.logBackendUrl,
    // Through a broker, maps' progress goes where nodes publish their logs, for dashboards to hear.
    progressUrl: client.logFrontendUrl === client.logBackendUrl ? undefined : client.logFrontendUrl,
  };
}
