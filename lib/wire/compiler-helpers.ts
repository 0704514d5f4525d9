/**
 * Names that TypeScript compilers put inside a function's body which the
 * workers provide, so that a function compiled by tsx (esbuild), tsc, ts-node
 * or swc ships as written. The pool lists those a source uses in its
 * FunctionRef (`helpers`); the worker binds each while compiling it
 * (node/compiler-helpers-runtime.ts):
 *
 *   esbuild (tsx)   `__name`, its keepNames helper, and `__using` / `__callDispose`, which it writes for
 *                   using declarations where Node has none (written for the workers from the proposal)
 *   tsc, ts-node    every helper tslib exports (`__awaiter`, `__generator`, `__rest`, ...), the `tslib_1`
 *                   namespace of importHelpers, and `templateObject_1`, ... (the cache slot of a tagged template)
 *   swc             every helper @swc/helpers exports (`_async_to_generator`, `_object_spread`, ...), called
 *                   directly or as `_async_to_generator._` (externalHelpers in CommonJS)
 *
 * tslib and @swc/helpers are the compilers' own runtimes, so a provided helper
 * behaves as the inlined one. Helpers known but not provided are refused with
 * what to do instead (`helperAdvice`).
 */
import { createRequire } from "node:module";

export type HelperKind = "esbuild" | "tslib" | "tslib-namespace" | "swc" | "cache-slot";

const require = createRequire(import.meta.url);

let tslibNames: ReadonlySet<string> | undefined;
let swcNames: ReadonlySet<string> | undefined;

/** tslib's helpers, read from the installed package (one small module). */
function tslibHelpers(): ReadonlySet<string> {
  tslibNames ??= new Set(Object.keys(require("tslib") as object).filter((name) => name.startsWith("__")));
  return tslibNames;
}

/** @swc/helpers' helpers, read from the export map of the installed package (no helper is loaded). */
function swcHelpers(): ReadonlySet<string> {
  if (!swcNames) {
    const manifest = require("@swc/helpers/package.json") as { exports: Record<string, unknown> };
    swcNames = new Set(
      Object.keys(manifest.exports)
        .filter((key) => key.startsWith("./_/_"))
        .map((key) => key.slice("./_/".length)),
    );
  }
  return swcNames;
}

/** How the workers provide `name`, or undefined when they do not. */
export function providedHelper(name: string): HelperKind | undefined {
  if (name === "__name" || name === "__using" || name === "__callDispose") return "esbuild";
  if (/^templateObject_\d+$/.test(name)) return "cache-slot";
  if (/^tslib_\d+$/.test(name)) return "tslib-namespace";
  if (name.startsWith("__")) return tslibHelpers().has(name) ? "tslib" : undefined;
  if (name.startsWith("_")) return swcHelpers().has(name) ? "swc" : undefined;
  return undefined;
}

/** A compiler helper the workers do not provide: what it is (said of one name, or of several), and what to do instead. */
export interface HelperAdvice {
  readonly one: string;
  readonly many: string;
  readonly fix: string;
}

const ESBUILD = { one: "is a helper esbuild (tsx) adds", many: "are helpers esbuild (tsx) adds" };
const DECORATORS = { ...ESBUILD, fix: "decorated classes cannot be shipped as source; ship a moduleFunction" };

/** Helpers esbuild (tsx) inlines that the workers do not provide. */
const ESBUILD_ADVICE: Readonly<Record<string, HelperAdvice>> = {
  __decorateClass: DECORATORS,
  __decorateElement: DECORATORS,
  __decoratorStart: DECORATORS,
  __decoratorMetadata: DECORATORS,
  __runInitializers: DECORATORS,
};

const SWC_TEMPLATE: HelperAdvice = {
  one: "is a function swc writes beside the shipped one to hold a tagged template's strings when it compiles for ES5",
  many: "are functions swc writes beside the shipped one to hold tagged templates' strings when it compiles for ES5",
  fix: "compile for ES2015 or later (jsc.target), or use no tagged template in the shipped function",
};

/** What to do about a compiler helper the workers do not provide, or undefined when `name` is not one. */
export function helperAdvice(name: string): HelperAdvice | undefined {
  if (Object.hasOwn(ESBUILD_ADVICE, name)) return ESBUILD_ADVICE[name];
  if (/^_templateObject\d*$/.test(name)) return SWC_TEMPLATE;
  return undefined;
}
