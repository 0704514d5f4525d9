/**
 * Writes refusals (of chunks or commands) to stderr and the log channel, at
 * most one line per second: a flood of forged messages must not become a
 * flood of log lines. Lines held back are not lost from sight: a second after
 * the last line said, the last one held back is said, with a count of the
 * others (or the next refusal says it, if it comes first).
 *
 *   write(line) ──a line said in the last second──► held back (count, last) ──1 s──► said with the count
 *               └─ else ──► said now, with the count of any held back
 */
const WINDOW_MS = 1000;

export class RefusalLog {
  private lastMs = -Infinity;
  private heldBack = 0;
  private lastHeld = "";
  private flush: NodeJS.Timeout | undefined = undefined;

  constructor(
    private readonly nodeId: string,
    private readonly publish: (line: string) => void,
  ) {}

  write(line: string): void {
    const now = Date.now();
    if (now - this.lastMs < WINDOW_MS) {
      this.heldBack++;
      this.lastHeld = line;
      this.flush ??= setTimeout(() => this.sayHeld(), this.lastMs + WINDOW_MS - now).unref();
      return;
    }
    this.say(line, this.heldBack, now);
  }

  /** Stops the pending line: nothing more is said. */
  close(): void {
    clearTimeout(this.flush);
    this.flush = undefined;
  }

  private sayHeld(): void {
    this.flush = undefined;
    if (this.heldBack > 0) this.say(this.lastHeld, this.heldBack - 1, Date.now());
  }

  private say(line: string, others: number, now: number): void {
    clearTimeout(this.flush);
    this.flush = undefined;
    this.lastMs = now;
    this.heldBack = 0;
    const more =
      others > 0
        ? ` (and ${others} more refusal${others > 1 ? "s" : ""} in the last second${others > 1 ? "s" : ""})`
        : "";
    process.stderr.write(`worker node ${this.nodeId}: ${line}${more}\n`);
    this.publish(`${line}${more}`);
  }
}
