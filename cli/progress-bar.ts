/** A one-line progress bar for a terminal (plain periodic lines when stderr is not a TTY). */
export class ProgressBar {
  private lastDraw = 0;
  private lastPlainPercent = -1;
  private readonly started = performance.now();

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {}

  update(done: number, total: number | undefined): void {
    const now = performance.now();
    const complete = total !== undefined && done >= total;
    if (!complete && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const rate = done / Math.max(1e-3, (now - this.started) / 1000);
    if (total === undefined) {
      this.write(`${this.label} ${done} items, ${Math.round(rate)} items/s`, complete);
      return;
    }
    const fraction = total === 0 ? 1 : Math.min(1, done / total);
    const percent = Math.floor(fraction * 100);
    if (!this.stream.isTTY) {
      if (percent >= this.lastPlainPercent + 25 || complete) {
        this.lastPlainPercent = percent;
        this.stream.write(`${this.label} ${percent}% (${done}/${total})\n`);
      }
      return;
    }
    const filled = Math.round(fraction * this.width);
    const bar = "#".repeat(filled) + "-".repeat(this.width - filled);
    this.write(
      `${this.label} [${bar}] ${String(percent).padStart(3)}% ${done}/${total} ${Math.round(rate)} items/s`,
      complete,
    );
  }

  private write(line: string, final: boolean): void {
    if (this.stream.isTTY) this.stream.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
    else if (final) this.stream.write(`${line}\n`);
  }
}
