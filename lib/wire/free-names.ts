/**
 * Which names a function's source uses from outside itself. A shipped
 * function runs in a worker thread far from its enclosing scope, so any such
 * name (other than standard globals and `memory`) would be undefined there.
 */
import { parse, type Node } from "acorn";
import { ancestor, base, type AncestorVisitors } from "acorn-walk";

/** Globals a shipped function may use: the language's and Node's standard ones. */
export const ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  "globalThis",
  "undefined",
  "NaN",
  "Infinity",
  "arguments",
  "Object",
  "Function",
  "Array",
  "Number",
  "String",
  "Boolean",
  "Symbol",
  "BigInt",
  "Math",
  "JSON",
  "Date",
  "RegExp",
  "Error",
  "TypeError",
  "RangeError",
  "SyntaxError",
  "ReferenceError",
  "EvalError",
  "URIError",
  "AggregateError",
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "FinalizationRegistry",
  "Promise",
  "Proxy",
  "Reflect",
  "Intl",
  "ArrayBuffer",
  "SharedArrayBuffer",
  "DataView",
  "Atomics",
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  "parseInt",
  "parseFloat",
  "isNaN",
  "isFinite",
  "encodeURI",
  "encodeURIComponent",
  "decodeURI",
  "decodeURIComponent",
  "escape",
  "unescape",
  "eval",
  "console",
  "Buffer",
  "process",
  "structuredClone",
  "queueMicrotask",
  "setTimeout",
  "clearTimeout",
  "setInterval",
  "clearInterval",
  "setImmediate",
  "clearImmediate",
  "TextEncoder",
  "TextDecoder",
  "URL",
  "URLSearchParams",
  "crypto",
  "performance",
  "atob",
  "btoa",
  "AbortController",
  "AbortSignal",
  "fetch",
  "Blob",
  "WebAssembly",
  "global",
  "DOMException",
  "Event",
  "EventTarget",
  "MessageChannel",
  "MessagePort",
  "BroadcastChannel",
  "Headers",
  "Request",
  "Response",
  "FormData",
  "ReadableStream",
  "WritableStream",
  "TransformStream",
  "CompressionStream",
  "DecompressionStream",
  "memory",
]);

type Scope = Set<string>;

function declarePattern(pattern: Node | null | undefined, scope: Scope): void {
  if (!pattern) return;
  const p = pattern as any;
  switch (p.type) {
    case "Identifier":
      scope.add(p.name);
      return;
    case "ObjectPattern":
      for (const prop of p.properties) declarePattern(prop.type === "RestElement" ? prop.argument : prop.value, scope);
      return;
    case "ArrayPattern":
      for (const element of p.elements) declarePattern(element, scope);
      return;
    case "RestElement":
      declarePattern(p.argument, scope);
      return;
    case "AssignmentPattern":
      declarePattern(p.left, scope);
      return;
  }
}

/**
 * Returns the free names of `source` (an expression: a function or arrow)
 * that are not allowed globals, in order of first use. Throws SyntaxError
 * if the source does not parse.
 */
export function freeNames(source: string): string[] {
  const program = parse(`(${source})`, { ecmaVersion: "latest", sourceType: "script" }) as Node;
  // Every name declared anywhere in the function: params, var/let/const, function and class names, catch params.
  // Shipped functions are small; treating all declarations as visible everywhere errs on the permissive side
  // only for shadowed names, never for a real closure over an outer variable that is not redeclared inside.
  const declared: Scope = new Set();
  const used: string[] = [];
  const visitors: AncestorVisitors<unknown> = {
    Function(node: any) {
      if (node.id) declared.add(node.id.name);
      for (const param of node.params) declarePattern(param, declared);
    },
    VariableDeclarator(node: any) {
      declarePattern(node.id, declared);
    },
    ClassDeclaration(node: any) {
      if (node.id) declared.add(node.id.name);
    },
    ClassExpression(node: any) {
      if (node.id) declared.add(node.id.name);
    },
    CatchClause(node: any) {
      declarePattern(node.param, declared);
    },
    Identifier(node: any, _state: unknown, ancestors: Node[]) {
      const parent = ancestors[ancestors.length - 2] as any;
      if (!parent) return used.push(node.name);
      if (parent.type === "MemberExpression" && parent.property === node && !parent.computed) return;
      if (
        (parent.type === "Property" || parent.type === "MethodDefinition" || parent.type === "PropertyDefinition") &&
        parent.key === node &&
        !parent.computed
      ) {
        if (parent.type === "Property" && parent.shorthand && parent.value === node) used.push(node.name);
        return;
      }
      if (
        (parent.type === "LabeledStatement" ||
          parent.type === "BreakStatement" ||
          parent.type === "ContinueStatement") &&
        parent.label === node
      )
        return;
      if (parent.type === "MetaProperty") return;
      used.push(node.name);
    },
  };
  ancestor(program, visitors, { ...base });
  const out: string[] = [];
  for (const name of used) {
    if (!declared.has(name) && !ALLOWED_GLOBALS.has(name) && !out.includes(name)) out.push(name);
  }
  return out;
}

/**
 * Whether the source uses `this` outside nested non-arrow functions and
 * classes (it would be undefined on the worker). A `this` that a compiler
 * passes to one of its `helpers` (`__awaiter(this, ...)`,
 * `_async_to_generator(...).call(this)`) is not a use: the function given to
 * such a helper runs with it, so `this` inside that function is one.
 */
export function usesThis(source: string, helpers: readonly string[] = []): boolean {
  const program = parse(`(${source})`, { ecmaVersion: "latest", sourceType: "script" }) as any;
  let root = program.body[0].expression;
  // A method's source is wrapped (`({ m(x) {...} })["m"]`, asExpression): the function is the property's value.
  if (root.type === "MemberExpression" && root.object.type === "ObjectExpression")
    root = root.object.properties[0].value;
  const isHelper = (node: any): boolean =>
    node?.type === "Identifier"
      ? helpers.includes(node.name)
      : node?.type === "MemberExpression"
        ? isHelper(node.object) // tslib_1.__awaiter, _async_to_generator._
        : node?.type === "SequenceExpression"
          ? isHelper(node.expressions[node.expressions.length - 1]) // (0, tslib_1.__awaiter)
          : node?.type === "CallExpression" && isHelper(node.callee); // helper(...).call(this)
  let found = false;
  const walk = (node: any, top: boolean): void => {
    if (!node || typeof node !== "object" || found) return;
    if (node.type === "ThisExpression") {
      found = true;
      return;
    }
    if (!top && (node.type === "FunctionExpression" || node.type === "FunctionDeclaration")) return;
    if (node.type === "ClassBody") return;
    if (node.type === "CallExpression" && isHelper(node.callee)) {
      walk(node.callee, false);
      for (const argument of node.arguments)
        if (argument.type !== "ThisExpression") walk(argument, argument.type === "FunctionExpression");
      return;
    }
    for (const key of Object.keys(node)) {
      const value = node[key];
      if (Array.isArray(value)) value.forEach((v) => walk(v, false));
      else if (value && typeof value.type === "string") walk(value, false);
    }
  };
  walk(root, true);
  return found;
}
