/**
 * Shared memory's entries as they travel: the codec map items use (V8
 * structured clone: Map, Set, Date, BigInt, NaN, typed arrays and cycles
 * arrive as themselves), carried as base64 text inside the set-memory
 * command's JSON (lib/channels/messages.ts).
 *
 *   pool.setMemory(entries) ──checkMemoryEntries (each key: no function, no class instance)──► encodeMemory ──► set-memory
 *   worker node ◄── decodeMemory ◄─────────────────────────────────────────────────────────────────────────────────┘
 *
 * Whatever cannot travel as itself is refused before anything is encoded,
 * naming its key: a function (with what works instead, as shipping refusals
 * say) or a class instance (it would arrive as a plain object).
 */
import v8 from "node:v8";
import { MemoryValueError, WireFormatError } from "./errors.js";
import { findUntravellable, instanceProblem } from "./item-classes.js";

/** What works instead of a function in shared memory. */
const FUNCTION_ADVICE =
  "shared memory holds data, and functions cannot travel: define it inside the function you map, or put both in a module " +
  'and ship moduleFunction(new URL("./module.js", import.meta.url), "name"), which imports it';

/** Throws MemoryValueError for the first entry that holds a function or a class instance. */
export function checkMemoryEntries(entries: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(entries)) {
    const found = findUntravellable(value);
    if (!found) continue;
    throw new MemoryValueError(
      key,
      found.className === undefined
        ? `${found.where} is a function: ${FUNCTION_ADVICE}`
        : instanceProblem(found.where, found.className),
    );
  }
}

/** The entries as set-memory carries them. Throws MemoryValueError naming the key that V8 cannot serialize. */
export function encodeMemory(entries: Readonly<Record<string, unknown>>): string {
  try {
    return v8.serialize(entries).toString("base64");
  } catch (error) {
    for (const [key, value] of Object.entries(entries)) {
      try {
        v8.serialize(value);
      } catch (entryError) {
        throw new MemoryValueError(key, `cannot travel: ${(entryError as Error).message}`, entryError);
      }
    }
    throw error;
  }
}

/** The entries a set-memory carried. Throws WireFormatError when they do not decode into an object of entries. */
export function decodeMemory(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = v8.deserialize(Buffer.from(text, "base64"));
  } catch (error) {
    throw new WireFormatError(`set-memory: its entries do not decode (${(error as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new WireFormatError("set-memory: its entries are not an object of entries");
  return value as Record<string, unknown>;
}
