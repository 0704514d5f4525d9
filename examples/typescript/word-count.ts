/** A module function of examples/typescript/main.ts: worker nodes import this .ts file (with tsx). */
import { words } from "./words.js";

export function wordCount(text: string): number {
  return words(text).length;
}
