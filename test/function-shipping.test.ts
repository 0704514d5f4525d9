/**
 * Shipping functions as source, without a job server: the exact advice of
 * each refusal (it must suggest only what works for the value at hand), the
 * compiler helpers a source lists and the workers provide, how a shipped
 * script's lines map back, the flags a local cluster's nodes inherit, and the
 * reason a node that cannot start gives.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { types } from "node:util";
import { toFunctionRef, moduleFunction, type FunctionRef } from "../lib/wire/function-ref.js";
import { FunctionShippingError } from "../lib/wire/errors.js";
import { providedHelper } from "../lib/wire/compiler-helpers.js";
import { shippedBody, sourcePosition, SHIPPED_FRAME } from "../lib/wire/shipped-source.js";
import { helperValues } from "../lib/node/compiler-helpers-runtime.js";
import { moduleLoadingFlags } from "../lib/node/module-loading-flags.js";
import { failureReason } from "../lib/node/errors.js";

const require = createRequire(import.meta.url);
const factor = 3;
function helper(x: number): number {
  return x + 1;
}

/** Asserts that `fn` is refused with exactly `message` (after "map function: "). */
function refused(fn: unknown, message: string): void {
  assert.throws(
    () => toFunctionRef(fn),
    (e: unknown) => e instanceof FunctionShippingError && e.message === `map function: ${message}`,
    message,
  );
}

const MODULE = (name: string) => `moduleFunction(new URL("./module.js", import.meta.url), "${name}")`;

describe("what a refusal suggests", () => {
  it("data: shared memory", () => {
    const scale = (x: number) => x * factor;
    refused(
      scale,
      'scale uses "factor" from its enclosing scope, which does not exist on the workers. ' +
        'Pass "factor" through shared memory: await pool.setMemory({ factor }), and read memory.get("factor") in the function.',
    );
  });

  it("an inner helper: define it inside, or a module function; never setMemory", () => {
    const useHelper = (x: number) => helper(x);
    refused(
      useHelper,
      'useHelper uses "helper" from its enclosing scope, which does not exist on the workers. ' +
        `"helper" (a function) cannot travel: define it inside the function, or put both in a module and ship ${MODULE("useHelper")}.`,
    );
  });

  it("an imported module and require: a module function", () => {
    const joinPath = (x: string) => path.join("a", x);
    refused(
      joinPath,
      'joinPath uses "path" from its enclosing scope, which does not exist on the workers. ' +
        '"path" (an object with functions or a class instance, such as an imported module) cannot travel: ' +
        `put the function in a module that imports what it uses, and ship ${MODULE("joinPath")}.`,
    );
    const viaRequire = (x: string) => (require("node:path") as typeof path).join("a", x);
    refused(
      viaRequire,
      'viaRequire uses "require" from its enclosing scope, which does not exist on the workers. ' +
        `Shipped functions have no "require": put the function in a module that imports what it uses, and ship ${MODULE("viaRequire")}.`,
    );
  });

  it("several kinds at once, and a name defined nowhere", () => {
    const mixed = (x: number) => helper(x) * factor + path.sep.length;
    refused(
      mixed,
      'mixed uses "helper", "factor" and "path" from its enclosing scope, which does not exist on the workers. ' +
        'Pass "factor" through shared memory: await pool.setMemory({ factor }), and read memory.get("factor") in the function. ' +
        `"helper" (a function) cannot travel: define it inside the function, or put both in a module and ship ${MODULE("mixed")}. ` +
        '"path" (an object with functions or a class instance, such as an imported module) cannot travel: ' +
        `put the function in a module that imports what it uses, and ship ${MODULE("mixed")}.`,
    );
    refused(
      new Function("x", "return notDefinedAnywhere(x)"),
      'anonymous uses "notDefinedAnywhere" from its enclosing scope, which does not exist on the workers. ' +
        '"notDefinedAnywhere" is not defined where the function was written either: declare it inside the function.',
    );
  });

  it("native functions: the call that works, which itself ships", () => {
    refused(
      Math.sqrt,
      "sqrt is a native function (Math.sqrt): its source is not available. Ship a function that calls it: (x) => Math.sqrt(x)",
    );
    refused(
      parseInt,
      "parseInt is a native function (parseInt): its source is not available. Ship a function that calls it: (x) => parseInt(x)",
    );
    refused(
      String.prototype.trim,
      "trim is a native function (String.prototype.trim): its source is not available. Ship a function that calls it: (x) => x.trim()",
    );
    refused(
      types.isDate,
      "isDate is a native function: its source is not available, so it cannot be shipped as source. " +
        "Ship a moduleFunction whose module exports a function that calls it",
    );
    for (const fix of [(x: number) => Math.sqrt(x), (x: number) => parseInt(String(x)), (x: string) => x.trim()])
      assert.equal(toFunctionRef(fix).kind, "source");
  });

  it("bound functions: named or not, never 'bound  is'", () => {
    const advice =
      "neither the source of the function it calls nor the values bound to it can be shipped. " +
      "Ship a plain function instead, taking those values from the item or from shared memory (pool.setMemory), or a moduleFunction";
    refused(((x: number) => x).bind(null), `an anonymous bound function: ${advice}`);
    refused(helper.bind(null), `"bound helper" is a bound function: ${advice}`);
  });

  it("a `this` of the function is refused; one in a class body or handed to a compiler helper is not", () => {
    refused(
      {
        m(x: number) {
          return (this as unknown as { k: number }).k + x;
        },
      }.m,
      'm uses "this", which has no value on the workers; pass what it needs as the item or through pool.setMemory',
    );
    const withClass = (x: number) => {
      class C {
        v = x;
        static s = 1;
        static {
          C.s = this.s + 1;
        }
      }
      return new C().v + C.s;
    };
    assert.equal(toFunctionRef(withClass).kind, "source");
    // tsc's ES2016 output of an async method: `this` goes to __awaiter, which runs the generator with it.
    const awaiterMethod = new Function(
      "__awaiter",
      "return { m(x) { return __awaiter(this, void 0, void 0, function* () { return x; }); } }.m",
    )(() => {});
    assert.deepEqual((toFunctionRef(awaiterMethod) as Extract<FunctionRef, { kind: "source" }>).helpers, ["__awaiter"]);
    const awaiterUsingThis = new Function(
      "__awaiter",
      "return { m(x) { return __awaiter(this, void 0, void 0, function* () { return this.k + x; }); } }.m",
    )(() => {});
    refused(
      awaiterUsingThis,
      'm uses "this", which has no value on the workers; pass what it needs as the item or through pool.setMemory',
    );
  });
});

describe("compiler helpers", () => {
  /** A function whose source uses the given helper names, as compiled code does. */
  const compiled = (names: string[], body: string) =>
    new Function(...names, `return ${body}`)(...names.map(() => () => {}));

  it("a source lists the helpers it uses; the workers' list is every export of tslib and @swc/helpers, and esbuild's __name", () => {
    const esbuild = compiled(["__name"], 'function f(x) { const h = __name((y) => y * 2, "h"); return h(x); }');
    assert.deepEqual((toFunctionRef(esbuild) as Extract<FunctionRef, { kind: "source" }>).helpers, ["__name"]);
    const tscCommonJs = compiled(
      ["tslib_1"],
      "(x) => tslib_1.__awaiter(void 0, void 0, void 0, function* () { return x; })",
    );
    assert.deepEqual((toFunctionRef(tscCommonJs) as Extract<FunctionRef, { kind: "source" }>).helpers, ["tslib_1"]);
    const swc = compiled(
      ["_object_spread", "_define_property"],
      "(x) => _object_spread({}, _define_property({}, 'a', x))",
    );
    assert.deepEqual((toFunctionRef(swc) as Extract<FunctionRef, { kind: "source" }>).helpers, [
      "_object_spread",
      "_define_property",
    ]);
    assert.equal(
      toFunctionRef((x: number) => x).kind === "source" && "helpers" in toFunctionRef((x: number) => x),
      false,
    );
    const tslib = Object.keys(require("tslib") as object).filter((n) => n.startsWith("__"));
    assert.ok(tslib.includes("__awaiter") && tslib.includes("__generator"));
    for (const name of tslib) assert.equal(providedHelper(name), "tslib", name);
    assert.equal(providedHelper("templateObject_1"), "cache-slot");
    assert.equal(providedHelper("_async_to_generator"), "swc");
    assert.equal(providedHelper("__notAHelper"), undefined);
    assert.equal(providedHelper("_notAHelper"), undefined);
  });

  it("the workers' values: tslib's functions, swc's callable also as ._, __name naming its target", async () => {
    const tslib = Object.keys(require("tslib") as object).filter((n) => n.startsWith("__"));
    for (const [i, value] of (await helperValues(tslib)).entries()) assert.equal(typeof value, "function", tslib[i]);
    const swcNames = ["_async_to_generator", "_object_spread", "_ts_generator", "_class_private_field_get"];
    for (const [i, value] of (await helperValues(swcNames)).entries()) {
      assert.equal(typeof value, "function", swcNames[i]);
      assert.equal(typeof (value as { _: unknown })._, "function", `${swcNames[i]}._`);
    }
    const [name, slot, namespace] = await helperValues(["__name", "templateObject_1", "tslib_1"]);
    const named = (name as (f: object, n: string) => { name: string })(() => {}, "given");
    assert.equal(named.name, "given");
    assert.equal(slot, undefined);
    assert.equal(typeof (namespace as Record<string, unknown>).__awaiter, "function");
    await assert.rejects(
      helperValues(["__notAHelper"]),
      (e: unknown) => (e as { code?: string }).code === "HELPER_UNAVAILABLE",
    );
  });
});

describe("a shipped function's script", () => {
  it("its lines map back to the source's, as V8 numbers them", () => {
    const source = "(x) => {\n  const y = x + 1;\n  throw new Error(String(y));\n}";
    const hash = "a".repeat(64);
    const fn = new Function("memory", "__name", shippedBody(source, hash))(undefined, undefined) as (x: number) => void;
    let stack = "";
    try {
      fn(1);
    } catch (error) {
      stack = (error as Error).stack!;
    }
    const frame = SHIPPED_FRAME.exec(stack.split("\n")[1]);
    assert.ok(frame, stack);
    assert.equal(frame[2], hash);
    assert.deepEqual(sourcePosition(Number(frame[3]), Number(frame[4])), { line: 3, column: 9 });
    assert.equal(sourcePosition(3, 1), undefined, "a line of the wrapper");
  });
});

describe("a local cluster's nodes and their start", () => {
  it("take the pool process's module-loading flags and no others", () => {
    assert.deepEqual(
      moduleLoadingFlags([
        "--require",
        "/x/tsx/dist/preflight.cjs",
        "--import",
        "file:///x/tsx/dist/loader.mjs",
        "--inspect=9229",
        "--max-old-space-size=512",
        "--enable-source-maps",
        "--loader=ts-node/esm",
        "-r",
        "dotenv/config",
        "--conditions",
        "development",
      ]),
      [
        "--require",
        "/x/tsx/dist/preflight.cjs",
        "--import",
        "file:///x/tsx/dist/loader.mjs",
        "--enable-source-maps",
        "--loader=ts-node/esm",
        "-r",
        "dotenv/config",
        "--conditions",
        "development",
      ],
    );
  });

  it("a node's stderr gives the reason of a failed start: the error line above the first frame", () => {
    const uncaught = [
      "node:internal/modules/esm/get_format:189",
      "  throw new ERR_UNKNOWN_FILE_EXTENSION(ext, filepath);",
      "        ^",
      "",
      'TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts" for /srv/app/worker-main.ts',
      "    at Object.getFileProtocolModuleFormat [as file:] (node:internal/modules/esm/get_format:189:9)",
      "",
      "Node.js v20.20.2",
    ].join("\n");
    assert.equal(
      failureReason(uncaught),
      'TypeError [ERR_UNKNOWN_FILE_EXTENSION]: Unknown file extension ".ts" for /srv/app/worker-main.ts',
    );
    assert.equal(
      failureReason("worker node failed to start: Error: Invalid argument\n    at Socket.connect (x)\n"),
      "worker node failed to start: Error: Invalid argument",
    );
    assert.equal(failureReason("one line\n"), "one line");
    assert.equal(failureReason(""), undefined);
  });

  it("moduleFunction names what travels, for the advice's suggestion", () => {
    assert.deepEqual(toFunctionRef(moduleFunction(new URL("file:///srv/module.js"), "useHelper")), {
      kind: "module",
      specifier: "file:///srv/module.js",
      exportName: "useHelper",
    });
  });
});
