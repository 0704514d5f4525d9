/**
 * A config's [client] section as the channels take it: how a client reaches
 * the cluster (ClientChannels, the part of ClusterControl's options a config
 * gives; declared here, below the control plane, which extends it), and the
 * cluster's CURVE keys for every socket (clients, worker nodes, the broker);
 * and the [server] section's four URLs for the broker.
 *
 *   [client] job_server_url, command_*_url, log_*_url, secret, curve_*_key ──► ClientChannels
 *   frontend URL = backend URL (direct mode) ──► this client binds that channel; otherwise it connects to the broker
 */
import type { ClientConfig, ServerConfig } from "./load-config.js";
import type { BrokerUrls } from "../channels/broker.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import { ClusterKey } from "../security/cluster-key.js";
import type { CurveKeys, CurveSettings } from "../security/curve.js";

/** How a client reaches the cluster's job servers and channels: what ClusterControl.open takes beside its own settings. */
export interface ClientChannels {
  readonly jobServers: readonly string[];
  /** Where commands are published: the broker's command frontend, or (bind) our own address in direct mode. */
  readonly commandUrl: string;
  readonly commandBind: boolean;
  /** Where log messages are heard: the broker's log backend, or (bind) our own address in direct mode. */
  readonly logUrl: string;
  readonly logBind: boolean;
  /** The cluster key: commands are signed with it, and log messages must be signed with it. None: nothing is signed or checked. */
  readonly key?: ClusterKey;
  /** Oldest log message accepted, in ms (replay window). Default 300000. */
  readonly signatureMaxAgeMs?: number;
  /** TLS to the job servers, for the admin connections that list live nodes. */
  readonly tls?: GearmanTlsOptions;
  /** The cluster's CURVE keys: both channels encrypted, only key holders admitted. None: plain TCP. */
  readonly curve?: CurveSettings;
  /**
   * Where this client publishes its maps' progress for dashboards: the
   * broker's log frontend. None (direct mode): progress reaches only this
   * process's own listeners (log.watch()).
   */
  readonly progressUrl?: string;
}

/** The cluster's CURVE key pair from a [client] section, if it has one: all a socket that only connects needs (a worker node's). */
export function curveKeysOf(client: ClientConfig): CurveKeys | undefined {
  if (client.curvePublicKey === undefined || client.curveSecretKey === undefined) return undefined;
  return { publicKey: client.curvePublicKey, secretKey: client.curveSecretKey };
}

/** The cluster's CURVE keys from a [client] section, if it has them; refused peers become process warnings. */
export function curveOf(client: ClientConfig): CurveSettings | undefined {
  const keys = curveKeysOf(client);
  if (keys === undefined) return undefined;
  return {
    ...keys,
    onRefused: (address) =>
      process.emitWarning(`refused a ZeroMQ connection from ${address}: it does not hold the cluster's CURVE key`, {
        code: "GLIMPSE_REFUSED",
      }),
  };
}

/** A [server] section's four URLs, where the broker binds (its other keys are the worker nodes'). */
export function brokerUrlsOf(server: ServerConfig): BrokerUrls {
  const { commandFrontendUrl, commandBackendUrl, logFrontendUrl, logBackendUrl } = server;
  return { commandFrontendUrl, commandBackendUrl, logFrontendUrl, logBackendUrl };
}

/** The client's side of the channels as a config's [client] section describes it. */
export function controlOptions(client: ClientConfig): ClientChannels {
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
