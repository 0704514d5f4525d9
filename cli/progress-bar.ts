/**
 * A one-line progress bar, redrawn in place, on a terminal; into a pipe or a
 * file (or on TERM=dumb) plain lines at every quarter instead, with no
 * escape sequences. It has no colours (so NO_COLOR has nothing to turn off).
 */
export class ProgressBar {
  private lastDraw = 0;
  private lastPlainPercent = -1;
  private readonly started = performance.now();
  /** Whether the stream is a terminal that takes a carriage return and an erase-line escape. */
  private readonly drawing: boolean;

  constructor(
    private readonly label: string,
    private readonly stream: Pick<NodeJS.WriteStream, "write" | "isTTY"> = process.stderr,
    private readonly width = 30,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.drawing = stream.isTTY === true && env.TERM !== "dumb";
  }

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
    if (!this.drawing) {
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
    if (this.drawing) this.stream.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
    else if (final) this.stream.write(`${line}\n`);
  }
}
