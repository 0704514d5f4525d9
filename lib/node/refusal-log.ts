/**
 * Writes refusals (of chunks or commands) to stderr and the log channel, at
 * most one line per second: a flood of forged messages must not become a
 * flood of log lines. Lines held back are counted in the next one.
 */
export class RefusalLog {
  private lastMs = -Infinity;
  private heldBack = 0;

  constructor(
    private readonly nodeId: string,
    private readonly publish: (line: string) => void,
  ) {}

  write(line: string): void {
    const now = Date.now();
    if (now - this.lastMs < 1000) {
      this.heldBack++;
      return;
    }
    this.lastMs = now;
    const more =
      this.heldBack > 0
        ? ` (and ${this.heldBack} more refusals in the last second${this.heldBack > 1 ? "s" : ""})`
        : "";
    this.heldBack = 0;
    process.stderr.write(`worker node ${this.nodeId}: ${line}${more}\n`);
    this.publish(`${line}${more}`);
  }
}
