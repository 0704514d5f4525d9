/**
 * The package's version, from its package.json: two levels above dist/lib when compiled, one above
 * lib/ when the source runs as it is (under tsx).
 */
import { existsSync, readFileSync } from "node:fs";

const manifest = [new URL("../../package.json", import.meta.url), new URL("../package.json", import.meta.url)].find(
  (url) => existsSync(url) && (JSON.parse(readFileSync(url, "utf8")) as { name?: string }).name === "glimpse-cluster",
);

export const PACKAGE_VERSION: string = manifest
  ? (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version
  : "unknown";
