/**
 * Node labels and the Gearman functions they map onto (docs/labels.md). A
 * labelled node registers `glimpse_map:LABEL` for each of its labels (and
 * `glimpse_map` too unless it is exclusive); a map given a label submits
 * every chunk to `glimpse_map:LABEL` alone.
 */
import { MAP_FUNCTION } from "./protocol.js";
import { Refusal, Rule } from "../options-schema.js";

/** Longest label accepted: short enough for admin listings and for any job server's function names. */
export const MAX_LABEL_LENGTH = 64;

/**
 * Letters, digits, "_", "-" and ".", starting with a letter or digit: characters every Gearman job
 * server and admin listing carries as they are (no ":", which joins the label to the function name,
 * no ",", which separates labels in lists, no spaces, which split gearadmin's columns).
 */
const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Why `label` is no valid label, or undefined when it is one. */
export function labelProblem(label: unknown): string | undefined {
  if (typeof label !== "string") return `expected a label (a string), got ${label === null ? "null" : typeof label}`;
  if (label.length === 0) return "expected a label, got an empty one";
  if (label.length > MAX_LABEL_LENGTH)
    return `label "${label.slice(0, 20)}..." has ${label.length} characters; at most ${MAX_LABEL_LENGTH}`;
  if (!LABEL.test(label))
    return `label ${JSON.stringify(label)} may hold only letters, digits, "_", "-" and ".", and must start with a letter or digit`;
  return undefined;
}

/** The option rule of one label (a map's `label`, each of a node's `labels`). */
export const labelRule = new Rule("a label", (value) => {
  const problem = labelProblem(value);
  return problem === undefined ? (value as string) : new Refusal(problem);
});

/** The Gearman function of a label's chunks; the plain MAP_FUNCTION without one. */
export function labelFunction(label: string | undefined): string {
  return label === undefined ? MAP_FUNCTION : `${MAP_FUNCTION}:${label}`;
}

/** The label a registered Gearman function stands for: "" for MAP_FUNCTION itself, undefined for a function that is not ours. */
export function functionLabel(func: string): string | undefined {
  if (func === MAP_FUNCTION) return "";
  const prefix = `${MAP_FUNCTION}:`;
  return func.startsWith(prefix) && labelProblem(func.slice(prefix.length)) === undefined
    ? func.slice(prefix.length)
    : undefined;
}

/** The functions a node with these labels registers while it serves. */
export function nodeFunctions(labels: readonly string[], exclusive: boolean): string[] {
  return [...(exclusive ? [] : [MAP_FUNCTION]), ...labels.map(labelFunction)];
}

/** Splits "gpu, bigmem" (and repeated values) into labels, in order, without duplicates. */
export function splitLabels(values: readonly string[]): string[] {
  const labels: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const label = part.trim();
      if (label !== "" && !labels.includes(label)) labels.push(label);
    }
  }
  return labels;
}
