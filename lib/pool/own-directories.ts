/** Finding this user's directories by name in a shared place (the temp directory, tmpfs), for clean-ups of what its killed processes left. */
import fs from "node:fs";
import path from "node:path";

/** This user's directories in `parent` whose names match `name` (none when `parent` cannot be read). */
export function ownDirectories(parent: string, name: RegExp): string[] {
  const uid = process.getuid?.();
  let names: string[];
  try {
    names = fs.readdirSync(parent).filter((entry) => name.test(entry));
  } catch {
    return [];
  }
  const found: string[] = [];
  for (const entry of names) {
    const directory = path.join(parent, entry);
    try {
      const stat = fs.lstatSync(directory);
      if (stat.isDirectory() && (uid === undefined || stat.uid === uid)) found.push(directory);
    } catch {
      // Gone meanwhile: nothing to clean.
    }
  }
  return found;
}
