/**
 * The errors the control plane raises: PoolErrors, as a pool's user meets
 * them (pool.setMemory, ping, drain, online, a map's waitForNodesMs), and the CLI
 * too (its drain and online).
 */
import { PoolError } from "../pool-error.js";
import { unreachedChannels, type ChannelEnd } from "./reachability.js";

/** A command that travels on the channels, while an end of them (a broker's address) accepted no connection. */
export const channelsUnreachable = (command: string, ends: readonly ChannelEnd[]): PoolError =>
  new PoolError("CHANNEL_UNREACHABLE", `${command}: ${unreachedChannels(ends)}`);

/** Nodes that did not acknowledge a set-memory or clear-memory within `waitMs`. */
export const memoryNotAcknowledged = (command: string, missing: readonly string[], waitMs: number): PoolError =>
  new PoolError(
    "MEMORY",
    `${command}: no acknowledgement from worker node${missing.length > 1 ? "s" : ""} ${missing.join(", ")} within ${waitMs} ms`,
  );

/** Nodes that answered a set-memory with an error: its entries did not decode there (`nodes`: "node: why" each). */
export const memoryNotRead = (command: string, nodes: readonly string[]): PoolError =>
  new PoolError(
    "MEMORY",
    `${command}: worker node${nodes.length > 1 ? "s" : ""} could not read the entries: ${nodes.join("; ")}`,
  );

export const noMatchingNode = (command: string, selector: string, live: string): PoolError =>
  new PoolError("NO_MATCHING_NODE", `${command}: ${selector} matches no live worker node; live nodes: ${live}`);

export const notAcknowledged = (command: string, missing: readonly string[], waitMs: number): PoolError =>
  new PoolError(
    "NOT_ACKNOWLEDGED",
    `${command}: no acknowledgement from worker node${missing.length > 1 ? "s" : ""} ${missing.join(", ")} within ${waitMs} ms`,
  );

/** `carried`: the labels the live serving nodes carry. */
export const noNodeForLabel = (
  label: string | undefined,
  waitMs: number,
  carried: readonly string[],
  unlabelled: boolean,
): PoolError =>
  new PoolError(
    "NO_NODE",
    `${label === undefined ? "no live worker node serves unlabelled maps (every one is exclusive or drained)" : `no live worker node carries the label "${label}"`} within ${waitMs} ms; ` +
      `the live serving nodes carry ${carried.length === 0 ? "no labels" : `the labels ${carried.join(", ")}`}${unlabelled ? " (and some serve unlabelled maps)" : ""}`,
  );
