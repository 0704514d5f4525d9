/**
 * Which worker nodes a drain or online command is for (docs/labels.md
 * "Selectors"): a pid, `host:pid`, a host name, a node id, `label:NAME`, or
 * every node. A string is matched against each form at once; a node matches
 * when any form does.
 */
import { ArgumentError } from "../argument-error.js";
import { labelProblem } from "../wire/labels.js";
import type { NodeStatsSnapshot } from "../channels/messages.js";

export type NodeSelector = string | { readonly all: true };

const LABEL_PREFIX = "label:";

/** Checks a selector; throws ArgumentError naming `argument`. */
export function checkSelector(argument: string, selector: unknown): NodeSelector {
  if (
    selector !== null &&
    typeof selector === "object" &&
    (selector as { all?: unknown }).all === true &&
    Object.keys(selector).length === 1
  )
    return selector as NodeSelector;
  if (typeof selector !== "string" || selector.trim() === "") {
    throw new ArgumentError(
      argument,
      `expected a pid, host:pid, host name, node id or label:NAME, or { all: true }, got ${selector === "" ? '""' : typeof selector === "object" ? JSON.stringify(selector) : String(selector)}`,
    );
  }
  if (selector.startsWith(LABEL_PREFIX)) {
    const problem = labelProblem(selector.slice(LABEL_PREFIX.length));
    if (problem !== undefined) throw new ArgumentError(argument, problem);
  }
  return selector.trim();
}

export function describeSelector(selector: NodeSelector): string {
  return typeof selector === "string" ? `"${selector}"` : "every node";
}

export function selects(selector: NodeSelector, node: NodeStatsSnapshot): boolean {
  if (typeof selector !== "string") return true;
  if (selector.startsWith(LABEL_PREFIX)) return (node.labels ?? []).includes(selector.slice(LABEL_PREFIX.length));
  if (selector === node.node || selector === node.host || selector === String(node.pid)) return true;
  const colon = selector.lastIndexOf(":");
  return colon > 0 && selector.slice(0, colon) === node.host && selector.slice(colon + 1) === String(node.pid);
}

/** One line per node for errors: host:pid, id, labels, state. */
export function describeNodes(nodes: readonly NodeStatsSnapshot[]): string {
  if (nodes.length === 0) return "no live worker node answered";
  return nodes
    .map(
      (n) =>
        `${n.host}:${n.pid} (${n.node}${n.labels?.length ? `, labels ${n.labels.join(",")}` : ""}, ${n.state ?? "serving"})`,
    )
    .join("; ");
}
