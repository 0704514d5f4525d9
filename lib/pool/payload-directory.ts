/**
 * Where a local cluster keeps its payload files (lib/wire/payload-file.ts): in tmpfs when the machine has
 * one (/dev/shm), so that they are memory and never disk; else in the cluster's private directory.
 *
 * The tmpfs directory is a fresh `glimpse-payloads-XXXXXX` (mode 0700: this user's alone) holding a symbolic
 * link `cluster` to the cluster's private directory. It goes when the cluster closes, when its process ends
 * (directory-guard.ts), or, after a kill, at the next local cluster's start: one whose link points at a
 * private directory that is gone (stale-clusters.ts removed it, or its cluster closed) is abandoned.
 *
 *   makePayloadDirectory(DIR) ──/dev/shm a writable directory?──► /dev/shm/glimpse-payloads-XXXXXX (+ cluster → DIR)
 *                                 └─ no ──► DIR/payloads
 */
import fs from "node:fs";
import path from "node:path";
import { ownDirectories } from "./own-directories.js";

export const TMPFS = "/dev/shm";
const PREFIX = "glimpse-payloads-";
const NAME = /^glimpse-payloads-[A-Za-z0-9]{6}$/;
const LINK = "cluster";

/** A payload directory for the cluster whose private directory is `clusterDirectory`. */
export function makePayloadDirectory(clusterDirectory: string, tmpfs = TMPFS): string {
  try {
    fs.accessSync(tmpfs, fs.constants.W_OK | fs.constants.X_OK);
    const directory = fs.mkdtempSync(path.join(tmpfs, PREFIX));
    fs.symlinkSync(clusterDirectory, path.join(directory, LINK));
    return directory;
  } catch {
    const directory = path.join(clusterDirectory, "payloads");
    fs.mkdirSync(directory, { mode: 0o700 });
    return directory;
  }
}

/** Removes this user's payload directories in `tmpfs` whose cluster's private directory is gone; resolves with their paths. */
export function removeStalePayloadDirectories(tmpfs = TMPFS): string[] {
  const removed: string[] = [];
  for (const directory of ownDirectories(tmpfs, NAME)) {
    try {
      // No link yet: a cluster starting this moment.
      const owner = fs.readlinkSync(path.join(directory, LINK));
      if (fs.existsSync(owner)) continue;
      fs.rmSync(directory, { recursive: true, force: true });
      removed.push(directory);
    } catch {
      // Gone meanwhile, being made, or not ours to read: leave it.
    }
  }
  return removed;
}
