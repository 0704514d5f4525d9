/**
 * What V8 knows about a function of this process and its source does not
 * say: where it was written (its script and position) and the values its
 * closure holds. Read through an in-process inspector session, which answers
 * at once (synchronously). Used only when a function is refused or an error
 * comes back from it, never per chunk: finding a script's URL enables the
 * debugger for a moment, about 0.1 ms per script the process has loaded.
 * Every answer is undefined where the inspector is not available.
 */
import { createRequire } from "node:module";
import type { Debugger, Runtime, Session } from "node:inspector";

/** Where a function's source text starts in the script V8 runs (0-based). */
export interface FunctionOrigin {
  /** The script's URL as V8 names it: a file URL for ES modules, a path for CommonJS. */
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

type Post = <T>(method: string, params?: object) => T;

const SLOT = Symbol.for("glimpse-cluster.inspected");
const SLOT_EXPRESSION = `globalThis[Symbol.for("glimpse-cluster.inspected")]`;
const require = createRequire(import.meta.url);

function withSession<T>(use: (post: Post, session: Session) => T): T | undefined {
  let session: Session;
  try {
    const inspector = require("node:inspector") as typeof import("node:inspector");
    session = new inspector.Session();
    session.connect();
  } catch {
    return undefined;
  }
  const post: Post = <T>(method: string, params = {}): T => {
    let answer: { error: Error | null; result: unknown } | undefined;
    session.post(method, params, (error, result) => (answer = { error, result }));
    if (!answer) throw new Error(`the inspector did not answer ${method} at once`);
    if (answer.error) throw answer.error;
    return answer.result as T;
  };
  try {
    return use(post, session);
  } catch {
    return undefined;
  } finally {
    session.disconnect();
  }
}

/** The inspector's handle on a value of this process. */
function objectId(post: Post, value: unknown): string {
  (globalThis as Record<symbol, unknown>)[SLOT] = value;
  try {
    return post<Runtime.EvaluateReturnType>("Runtime.evaluate", { expression: SLOT_EXPRESSION }).result.objectId!;
  } finally {
    delete (globalThis as Record<symbol, unknown>)[SLOT];
  }
}

/** The value behind an inspector RemoteObject. */
function valueOf(post: Post, remote: Runtime.RemoteObject): unknown {
  if (remote.objectId) {
    post("Runtime.callFunctionOn", {
      objectId: remote.objectId,
      functionDeclaration: `function () { ${SLOT_EXPRESSION} = this; }`,
    });
    const value = (globalThis as Record<symbol, unknown>)[SLOT];
    delete (globalThis as Record<symbol, unknown>)[SLOT];
    return value;
  }
  if (remote.unserializableValue !== undefined) {
    const text = remote.unserializableValue;
    return text.endsWith("n") ? BigInt(text.slice(0, -1)) : Number(text);
  }
  return remote.value;
}

function properties(post: Post, objectId: string): Runtime.GetPropertiesReturnType {
  return post<Runtime.GetPropertiesReturnType>("Runtime.getProperties", { objectId, ownProperties: true });
}

function internal(post: Post, objectId: string, name: string): Runtime.RemoteObject | undefined {
  return properties(post, objectId).internalProperties?.find((p) => p.name === name)?.value;
}

/** Where `fn`'s source text starts, or undefined when its script has no URL (eval) or there is no inspector. */
export function functionOrigin(fn: (...args: never[]) => unknown): FunctionOrigin | undefined {
  return withSession((post, session) => {
    const location = internal(post, objectId(post, fn), "[[FunctionLocation]]")?.value as Debugger.Location | undefined;
    if (!location) return undefined;
    let url = "";
    const onScript = (message: { params: { scriptId: string; url: string } }) => {
      if (message.params.scriptId === location.scriptId) url = message.params.url;
    };
    session.on("Debugger.scriptParsed", onScript);
    let script: string;
    try {
      post("Debugger.enable");
      script = post<Debugger.GetScriptSourceReturnType>("Debugger.getScriptSource", {
        scriptId: location.scriptId,
      }).scriptSource;
    } finally {
      session.off("Debugger.scriptParsed", onScript);
      post("Debugger.disable");
    }
    if (!url) return undefined;
    // V8 places a function at its parameters; its source text starts earlier (its name, `async`, `function`).
    const text = Function.prototype.toString.call(fn);
    const column = location.columnNumber ?? 0;
    let offset = column;
    for (let line = 0, at = 0; line < location.lineNumber; line++) {
      at = script.indexOf("\n", at) + 1;
      offset = at + column;
    }
    const start = script.lastIndexOf(text, offset);
    if (start < 0) return { url, line: location.lineNumber, column };
    const before = script.slice(0, start);
    const line = before.split("\n").length - 1;
    return { url, line, column: start - (before.lastIndexOf("\n") + 1) };
  });
}

/**
 * The values that `names` have in `fn`'s closure (or as globals of this
 * process), for those found; undefined when there is no inspector.
 */
export function closureValues(
  fn: (...args: never[]) => unknown,
  names: readonly string[],
): Map<string, unknown> | undefined {
  return withSession((post) => {
    const found = new Map<string, unknown>();
    const scopes = internal(post, objectId(post, fn), "[[Scopes]]");
    const list = scopes?.objectId ? properties(post, scopes.objectId).result : [];
    for (const scope of list) {
      // The global scope lists every global: read those from globalThis below.
      if (!scope.value?.objectId || /^Global\b/.test(scope.value.description ?? "")) continue;
      for (const variable of properties(post, scope.value.objectId).result) {
        if (names.includes(variable.name) && !found.has(variable.name) && variable.value)
          found.set(variable.name, valueOf(post, variable.value));
      }
    }
    for (const name of names)
      if (!found.has(name) && name in globalThis) found.set(name, (globalThis as Record<string, unknown>)[name]);
    return found;
  });
}
