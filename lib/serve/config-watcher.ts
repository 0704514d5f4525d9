/**
 * Watches a jobsconfig for changes: the directory is watched (editors and
 * deploy tools replace a file by renaming a new one over it), events for the
 * file are gathered for `settleMs`, and `onChange` runs when its bytes
 * differ from the last ones seen.
 */
import { watch, readFileSync, type FSWatcher } from "node:fs";
import path from "node:path";

export class ConfigWatcher {
  private readonly watcher: FSWatcher;
  private timer: NodeJS.Timeout | undefined;
  private last: string | undefined;

  constructor(
    private readonly file: string,
    private readonly onChange: () => void,
    private readonly settleMs = 100,
  ) {
    this.last = this.contents();
    const name = path.basename(file);
    this.watcher = watch(path.dirname(file), (_event, changed) => {
      if (changed !== null && changed.toString() !== name) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(), this.settleMs);
    });
    this.watcher.on("error", () => {});
  }

  private contents(): string | undefined {
    try {
      return readFileSync(this.file, "latin1");
    } catch {
      return undefined;
    }
  }

  private check(): void {
    const now = this.contents();
    if (now === undefined || now === this.last) return;
    this.last = now;
    this.onChange();
  }

  /** Records the bytes now in the file as seen (a reload is reading it). */
  seen(): void {
    this.last = this.contents();
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher.close();
  }
}
