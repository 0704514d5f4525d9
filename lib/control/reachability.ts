/**
 * What a cluster command could reach: each job server (by the admin
 * connection the node directory lists live nodes with) and each channel
 * endpoint. The CLI reports what was not reached (cli/reach-report.ts); a
 * command published on the channels fails when an end was not reached
 * (CommandClient), in the words of unreachedChannels, which say what the
 * connection attempts met (lib/channels/connection-watch.ts) and what that
 * can mean.
 */
import type { ConnectionTrouble, ConnectionWatch } from "../channels/connection-watch.js";

/** One channel's end: a bound endpoint (direct mode) is ours and counts as reached; a connected one once ZeroMQ connected to it. */
export interface ChannelEnd {
  readonly channel: "command" | "log";
  readonly endpoint: string;
  readonly bind: boolean;
  readonly reached: boolean;
  /** Why a connected end is not reached, from what its connection attempts met. */
  readonly trouble?: ConnectionTrouble;
}

/** A channel end as its socket stands: bound (reached), or connecting and watched. */
export function endOf(
  channel: ChannelEnd["channel"],
  endpoint: string,
  bind: boolean,
  watch: ConnectionWatch | undefined,
): ChannelEnd {
  if (bind || !watch) return { channel, endpoint, bind, reached: true };
  const trouble = watch.trouble;
  return trouble === undefined
    ? { channel, endpoint, bind, reached: true }
    : { channel, endpoint, bind, reached: false, trouble };
}

/** What reach() reads of the node directory: the job servers and which of them answered its admin connection. */
export interface JobServerAnswers {
  readonly jobServers: readonly string[];
  readonly reached: ReadonlySet<string>;
  readonly unreachable: ReadonlyMap<string, string>;
  list(): Promise<unknown>;
}

export interface Reach {
  readonly jobServers: readonly { readonly server: string; readonly reached: boolean; readonly error?: string }[];
  readonly channels: readonly ChannelEnd[];
}

/** Which job servers answered the admin connection (asking them now if none was asked yet), then the channel ends as they are. */
export async function reachOf(directory: JobServerAnswers, channels: () => readonly ChannelEnd[]): Promise<Reach> {
  if (directory.reached.size === 0 && directory.unreachable.size === 0) await directory.list();
  return {
    jobServers: directory.jobServers.map((server) => ({
      server,
      reached: directory.reached.has(server) && !directory.unreachable.has(server),
      error: directory.unreachable.get(server),
    })),
    channels: channels(),
  };
}

/**
 * What each failure can mean: what was seen, then its likely causes. A
 * running broker behind a cut link is silent, not refused: the words never
 * say "not running" of what they cannot tell from a cut.
 */
const MEANS: Record<ConnectionTrouble, string> = {
  refused:
    "the connection was refused: nothing listens there (the broker is not running, or listens on another address or port)",
  silent:
    "no answer to the connection: the host is down or cut off from this one, or a firewall drops the packets (a running broker behind a cut link looks the same)",
  "no-route": "no route to it from this host: a wrong address, or this host's network is down",
  unresolved: "its host name does not resolve (or the address is not valid)",
  lost: "the connection was lost and is not back: the broker stopped, or the link to it went down",
  pending: "no connection yet",
};

/** Why connected channel ends were not reached, in one phrase for the CLI's lines and the pool's errors. */
export function unreachedChannels(ends: readonly ChannelEnd[]): string {
  const named = (group: readonly ChannelEnd[]) =>
    group.map((end) => `the ${end.channel} channel at ${end.endpoint}`).join(" or ");
  const troubles = [...new Set(ends.map((end) => end.trouble ?? "pending"))];
  if (troubles.length === 1) return `could not reach ${named(ends)}: ${MEANS[troubles[0]]}`;
  return `could not reach ${ends.map((end) => `${named([end])} (${MEANS[end.trouble ?? "pending"]})`).join(" or ")}`;
}
