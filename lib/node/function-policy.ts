/**
 * Which functions a worker node runs. Source-shipped functions (and cached
 * ones, which are source too) run only when `allowSource`; module functions
 * run when `allowSource`, or when their module is on the allow-list.
 *
 * `allow_source = auto` (the default) allows source only when the node has a
 * cluster secret (so only signed chunks arrive) or every job server is on
 * loopback or a Unix socket (so only this machine's users can submit). Otherwise a node
 * reachable from the network would run whatever anyone submits.
 */
import { parseAddressList } from "../gearman/address.js";
import type { FunctionRef } from "../wire/function-ref.js";
import { FunctionRefusedError } from "./errors.js";

export interface FunctionPolicy {
  readonly allowSource: boolean;
  /** Module specifiers, or prefixes ending in "/", whose exports may run. */
  readonly allowedModules: readonly string[];
  /** Why source is or is not allowed, for messages. */
  readonly why: string;
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);

export function resolvePolicy(
  setting: boolean | "auto",
  hasSecret: boolean,
  jobServers: readonly string[],
  allowedModules: readonly string[],
): FunctionPolicy {
  const modules = Object.freeze(allowedModules.map(normalize));
  if (setting !== "auto")
    return Object.freeze({ allowSource: setting, allowedModules: modules, why: `allow_source = ${setting}` });
  if (hasSecret)
    return Object.freeze({
      allowSource: true,
      allowedModules: modules,
      why: "allow_source = auto and the node has a cluster secret",
    });
  const remote = parseAddressList(jobServers).filter((a) => !isLoopback(a.host));
  if (remote.length === 0)
    return Object.freeze({
      allowSource: true,
      allowedModules: modules,
      why: "allow_source = auto and every job server is on loopback or a Unix socket",
    });
  return Object.freeze({
    allowSource: false,
    allowedModules: modules,
    why: `allow_source = auto, the node has no cluster secret and job server ${remote[0].host}:${remote[0].port} is not on loopback (anyone who reaches it could run code here)`,
  });
}

function normalize(specifier: string): string {
  if (!specifier.startsWith("file:") && !specifier.startsWith("/")) return specifier;
  const url = new URL(specifier, "file:///").href; // resolves "..", so a prefix cannot be escaped
  return specifier.endsWith("/") && !url.endsWith("/") ? `${url}/` : url;
}

function moduleAllowed(specifier: string, policy: FunctionPolicy): boolean {
  const wanted = normalize(specifier);
  return policy.allowedModules.some((entry) => (entry.endsWith("/") ? wanted.startsWith(entry) : wanted === entry));
}

/** Throws FunctionRefusedError unless the policy lets `ref` run. */
export function checkFunction(ref: FunctionRef, policy: FunctionPolicy): void {
  if (policy.allowSource) return;
  if (ref.kind === "module") {
    if (moduleAllowed(ref.specifier, policy)) return;
    const list = policy.allowedModules.length > 0 ? policy.allowedModules.join(", ") : "none";
    throw new FunctionRefusedError(
      `this worker node does not run ${ref.exportName} from ${ref.specifier}: the module is not in [server] allowed_modules (${list}) and source functions are off (${policy.why})`,
    );
  }
  throw new FunctionRefusedError(
    `this worker node does not run functions shipped as source (${policy.why}). Set a cluster secret ([client] secret) on clients and workers, ` +
      `or set [server] allow_source = true, or ship a moduleFunction from a module listed in [server] allowed_modules`,
  );
}
