/**
 * What every cluster command says about the parts it could not reach: one
 * stderr line per job server or channel endpoint, and a CliError UNREACHABLE
 * (exit status 1) when it reached no job server, or not a channel endpoint
 * it needs (both for a command the nodes answer; the log channel for
 * `logs`): then its output (an empty table, no acknowledgements) would say
 * nothing about the cluster.
 */
import type { ChannelEnd, Reach } from "../lib/control/reachability.js";
import { unreachedChannels } from "../lib/control/reachability.js";
import { clusterUnreachable, unreachableSaid } from "./errors.js";

export function unreachedLines(reach: Reach): string[] {
  const lines: string[] = [];
  for (const s of reach.jobServers)
    if (!s.reached) lines.push(`could not reach job server ${s.server}: ${s.error ?? "no answer"}`);
  for (const c of reach.channels) if (!c.reached) lines.push(unreachedChannels([c]));
  return lines;
}

/** Writes the lines to stderr; throws when the command reached nothing it needs. */
export function reportReach(
  reach: Reach,
  write: (text: string) => void = (text) => void process.stderr.write(text),
  needs: (end: ChannelEnd) => boolean = () => true,
): void {
  for (const line of unreachedLines(reach)) write(`glimpse-cluster: ${line}\n`);
  const noServer = reach.jobServers.length > 0 && reach.jobServers.every((s) => !s.reached);
  if (noServer)
    throw clusterUnreachable(
      reach.jobServers.length === 1 ? "the job server" : `any of the ${reach.jobServers.length} job servers`,
    );
  if (reach.channels.some((c) => needs(c) && !c.reached)) throw unreachableSaid();
}
