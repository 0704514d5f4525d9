/**
 * Private directories that local clusters of this user left behind when their
 * process was killed before it could close them (SIGKILL, an unhandled
 * SIGINT): a `glimpse-local-XXXXXX` directory in the temp directory, owned by
 * this user, whose job server socket is still there but refuses connections.
 * A cluster that is running answers on its socket, and one still starting or
 * already closing has no socket file, so neither is touched.
 */
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { ownDirectories } from "./own-directories.js";

export const LOCAL_CLUSTER_PREFIX = "glimpse-local-";
const NAME = /^glimpse-local-[A-Za-z0-9]{6}$/;

function refuses(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ path: socketPath });
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

/** Removes this user's abandoned local cluster directories under `tmpdir`; resolves with the paths removed. */
export async function removeStaleLocalClusters(tmpdir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const directory of ownDirectories(tmpdir, NAME)) {
    try {
      const socketPath = path.join(directory, "jobs.sock");
      if (!fs.lstatSync(socketPath, { throwIfNoEntry: false })?.isSocket()) continue;
      if (!(await refuses(socketPath))) continue;
      fs.rmSync(directory, { recursive: true, force: true });
      removed.push(directory);
    } catch {
      // Gone meanwhile, or not ours to read: leave it.
    }
  }
  return removed;
}
