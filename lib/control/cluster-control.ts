/**
 * The control plane: a client's side of the command and log channels, beside
 * Gearman. ClusterControl opens the two channel ends and the job servers'
 * admin connections, holds the parts that use them, and closes them all.
 *
 *   commands  CommandClient   ──command channel──► worker nodes: ping, quit, restart, drain / online, cancel
 *   memory    SharedMemory    ──set / clear until acknowledged; answers a node's need-memory
 *   nodes     NodeDirectory   ◄─admin `workers` of each job server, ping replies: the live nodes, survey(label)
 *   log       LogChannel      ◄─log channel: records, acknowledgements, ping replies, (watchProgress) maps' progress
 *   progress  ProgressChannel ──maps' progress for dashboards
 *   reach()                   which job servers and channel endpoints were reached
 *
 * With a cluster key, commands and progress are signed and log messages must
 * be signed; a refused log message becomes a process warning (once per
 * reason). The pool, the dashboard and the CLI use it; it uses nothing of
 * theirs. lib/config/channel-options.ts turns a config's [client] section
 * into the part of its options that says how to reach the cluster
 * (ClientChannels: a type of the config layer, which is below this one).
 */
import { randomBytes } from "node:crypto";
import type { ClientChannels } from "../config/channel-options.js";
import type { GearmanTlsOptions } from "../gearman/transport.js";
import type { SignatureError } from "../security/errors.js";
import { CommandClient } from "./command-client.js";
import { LogChannel } from "./log-channel.js";
import { NodeDirectory } from "./node-directory.js";
import { ProgressChannel } from "./progress-channel.js";
import { reachOf, type Reach } from "./reachability.js";
import { SharedMemory } from "./shared-memory.js";

/** How to reach the cluster (channels, job servers, keys: what a [client] section says), and the control plane's own settings. */
export interface ControlOptions extends ClientChannels {
  /** How long setMemory / clearMemory wait for every live node's acknowledgement, in ms. Default 30000. */
  readonly memoryAckMs?: number;
  /** Also hear other clients' map progress (a dashboard). Default false. */
  readonly watchProgress?: boolean;
  /** A log message was refused (unsigned, forged, replayed); default: a process warning, once per reason. */
  readonly onRefused?: (error: SignatureError, topic: string) => void;
}

export class ClusterControl {
  /** Commands to the worker nodes, published until answered. */
  readonly commands: CommandClient;
  /** The shared memory this client gives the nodes. */
  readonly memory: SharedMemory;
  /** Which nodes are alive (the job servers' listings), and what they reported. */
  readonly nodes: NodeDirectory;
  /** What the nodes publish: records, answers, ping replies. */
  readonly log: LogChannel;
  /** Maps' progress, for dashboards. */
  readonly progress: ProgressChannel;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: ControlOptions) {
    const { key, curve } = options;
    const id = `client-${randomBytes(4).toString("hex")}`;
    this.log = new LogChannel({
      url: options.logUrl,
      bind: options.logBind,
      key,
      signatureMaxAgeMs: options.signatureMaxAgeMs,
      curve,
      watchProgress: options.watchProgress,
      onRefused: options.onRefused,
    });
    // The directory and the memory listen first: a node's id is known, and its memory request answered, before any other listener hears it.
    this.nodes = new NodeDirectory(options.jobServers, options.tls, this.log);
    this.commands = new CommandClient(
      { url: options.commandUrl, bind: options.commandBind, key, curve },
      id,
      this.log,
      this.nodes,
    );
    this.memory = new SharedMemory(this.commands, this.log, options.memoryAckMs);
    this.progress = new ProgressChannel({ url: options.progressUrl, key, curve }, id, this.log);
  }

  static async open(options: ControlOptions): Promise<ClusterControl> {
    const control = new ClusterControl(options);
    try {
      await control.commands.open();
      await control.log.open();
    } catch (error) {
      await control.close();
      throw error;
    }
    return control;
  }

  /** The job servers this client asks for the live nodes, the TLS to them, and whether messages are signed (a cluster key). */
  get cluster(): {
    readonly jobServers: readonly string[];
    readonly tls: GearmanTlsOptions | undefined;
    readonly signed: boolean;
  } {
    return { jobServers: this.options.jobServers, tls: this.options.tls, signed: this.options.key !== undefined };
  }

  /**
   * Which job servers answered the admin connection (asking them now if
   * none was asked yet) and which channel endpoints ZeroMQ connected to.
   */
  reach(): Promise<Reach> {
    return reachOf(this.nodes, () => [this.commands.end, this.log.end]);
  }

  /** Closes every socket and connection of the parts. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.memory.close();
      await Promise.allSettled([this.commands.close(), this.log.close(), this.nodes.close(), this.progress.close()]);
    })();
    return this.closing;
  }
}
