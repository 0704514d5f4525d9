/**
 * Shipping TypeScript functions, run as TypeScript by tsx (docs/functions.md):
 *
 *   npx tsx examples/typescript/main.ts
 *
 * A local cluster (MakePool() without a configuration) starts its worker nodes with this process's
 * module-loading flags, so they import the .ts module function as this process would.
 */
import { MakePool, RemoteError, moduleFunction } from "../../lib/index.js";

// Shipped as source. tsx (esbuild) wraps the inner arrow and class in its __name helper, which the
// worker threads provide.
function slugify(title: string): string {
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  class Slug {
    constructor(readonly text: string) {}
    toString() {
      return this.text.replace(/^-|-$/g, "");
    }
  }
  return String(new Slug(clean(title)));
}

// A module function from a .ts file, which imports what it needs.
const wordCount = moduleFunction<string, number>(new URL("./word-count.ts", import.meta.url), "wordCount");

// A function that throws: the remote stack points at this file's line.
function checked(x: number): number {
  if (x < 0) throw new RangeError(`negative: ${x}`);
  return Math.sqrt(x);
}

const pool = await MakePool();
try {
  console.log(await pool.map(slugify, ["Hello, World!", "TypeScript on workers"]));
  console.log(await pool.map(wordCount, ["one two", "three"]));
  await pool.map(checked, [4, -1]).catch((error: RemoteError) => {
    console.log(error.message.replace(/ on \S+$/, ""));
    console.log((error.cause as Error).stack!.split("\n")[1].trim());
  });
} finally {
  await pool.close();
}
