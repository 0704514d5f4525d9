/**
 * The private directories of this process's running local clusters, removed
 * when the process ends before closing them: at exit (process.exit, or the
 * event loop running dry), and on SIGINT, SIGTERM or SIGHUP when nothing else
 * in the process handles that signal. Then the directories are removed and
 * the signal is raised again, so the process still ends as it would have
 * (killed by the signal: a shell sees 130 for Ctrl-C). A program that
 * handles the signal itself decides what happens; its pool.close() removes
 * the directory. Without this, only the next local cluster's start would
 * remove it (stale-clusters.ts).
 *
 *   guardDirectory(dir) ──► listeners installed with the first directory, removed with the last
 *   SIGINT, ours the only listener ──► rm every directory ──► listeners removed ──► SIGINT raised again
 */
import fs from "node:fs";

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const directories = new Set<string>();

function removeAll(): void {
  for (const directory of directories) fs.rmSync(directory, { recursive: true, force: true });
  directories.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return; // the program handles it (and closes its pools)
  removeAll();
  uninstall();
  process.kill(process.pid, signal);
}

function install(): void {
  process.on("exit", removeAll);
  // First in line: when it runs, a program's own listener is still counted, even one added with once().
  for (const signal of SIGNALS) process.prependListener(signal, onSignal);
}

function uninstall(): void {
  process.off("exit", removeAll);
  for (const signal of SIGNALS) process.off(signal, onSignal);
}

/** Removes `directory` if the process ends before the returned function is called (after the owner removed it). */
export function guardDirectory(directory: string): () => void {
  if (directories.size === 0) install();
  directories.add(directory);
  return () => {
    if (!directories.delete(directory)) return;
    if (directories.size === 0) uninstall();
  };
}
