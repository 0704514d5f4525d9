/**
 * What a cluster command could reach: each job server (by the admin
 * connection the node directory lists live nodes with) and each channel
 * endpoint. The CLI reports what was not reached (cli/reach-report.ts); a
 * command published on the channels fails when an end was not reached
 * (CommandClient), in the words of unreachedChannels.
 */

/** One channel's end: a bound endpoint (direct mode) is ours and counts as reached; a connected one once ZeroMQ connected to it. */
export interface ChannelEnd {
  readonly channel: "command" | "log";
  readonly endpoint: string;
  readonly bind: boolean;
  readonly reached: boolean;
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

/** Why connected channel ends were not reached, in one phrase for the CLI's lines and the pool's errors. */
export function unreachedChannels(ends: readonly ChannelEnd[]): string {
  const named = ends.map((end) => `the ${end.channel} channel at ${end.endpoint}`).join(" or ");
  return `could not reach ${named}: nothing accepted the connection (is the broker running?)`;
}
