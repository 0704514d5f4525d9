/**
 * The errors the control plane raises: PoolErrors, as a pool's user meets
 * them (pool.setMemory, ping, drain, online, a map with no node to run it), and the CLI
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

/** What the job servers said when asked who serves a map's function, for NO_NODE. */
export interface NodeSurvey {
  /** The map's label (undefined: an unlabelled map, glimpse_map). */
  readonly label: string | undefined;
  /** The Gearman function its chunks go to. */
  readonly func: string;
  /** Job servers that answered (admin `workers`). */
  readonly asked: readonly string[];
  /** Job servers that did not, with why. */
  readonly unanswered: readonly (readonly [string, string])[];
  /** Worker nodes registered at any of them, for any function. */
  readonly nodes: number;
  /** The labels the live serving nodes carry. */
  readonly carried: readonly string[];
  /** Some live node serves unlabelled maps. */
  readonly unlabelled: boolean;
}

/**
 * No live worker node serves a map's function, `waitedMs` after the map began (or last made
 * progress): "no worker node has registered glimpse_map at js1:4730 within 30000 ms; ...".
 */
export function noNodeRegistered(survey: NodeSurvey, waitedMs: number): PoolError {
  const { label, func, asked, unanswered, nodes, carried, unlabelled } = survey;
  const what = label === undefined ? func : `${func} (the label "${label}")`;
  const others =
    nodes === 0
      ? "no worker node is registered there at all: is one running (glimpse-cluster launch-worker), and can it reach these job servers?"
      : label === undefined
        ? `the ${nodes === 1 ? "one live node is" : `${nodes} live nodes are all`} exclusive or drained (labels: ${carried.length === 0 ? "none" : carried.join(", ")})`
        : `the live serving nodes carry ${carried.length === 0 ? "no labels" : `the labels ${carried.join(", ")}`}${unlabelled ? " (and some serve unlabelled maps)" : ""}`;
  const silent = unanswered.map(([server, why]) => `; ${server} did not answer (${why})`).join("");
  return new PoolError(
    "NO_NODE",
    `no worker node has registered ${what} at ${asked.join(", ")} within ${waitedMs} ms (wait_for_nodes, or the map's waitForNodesMs); ${others}${silent}`,
  );
}
