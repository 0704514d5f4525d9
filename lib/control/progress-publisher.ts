/**
 * One map's progress as its pool publishes it for dashboards (through the
 * ProgressChannel): the first update at once, then at most one every
 * `intervalMs` (the latest figures, by a timer, so a map that stalls still
 * shows where it stopped), and its end always, with the reason when it
 * failed.
 */
import type { MapProgress } from "../channels/messages.js";

/** Four updates a second: a dashboard pushes once a second, and a progress bar moves smoothly. */
export const PROGRESS_INTERVAL_MS = 250;
/** A failed map's reason is cut to this many characters: a progress message stays small. */
const MAX_ERROR = 1000;

const cut = (text: string) => (text.length <= MAX_ERROR ? text : `${text.slice(0, MAX_ERROR - 1)}…`);

export class ProgressPublisher {
  private done = 0;
  private failed = 0;
  private retries = 0;
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private ended = false;
  private readonly started = Date.now();

  constructor(
    private readonly publish: (progress: MapProgress) => void,
    private readonly mapId: string,
    private readonly functionName: string,
    private readonly total: number | undefined,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {}

  update(done: number, failed: number, retries: number): void {
    if (this.ended) return;
    this.done = done;
    this.failed = failed;
    this.retries = retries;
    if (this.timer !== undefined) return;
    const wait = this.last + this.intervalMs - Date.now();
    if (wait <= 0) return this.send("running");
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.ended) this.send("running");
    }, wait);
    this.timer.unref();
  }

  /** The last update: finished, or failed and why (`error`, cut to MAX_ERROR characters: a dashboard shows it). */
  end(state: "finished" | "failed", error?: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.send(state, error === undefined ? undefined : cut(error));
  }

  private send(state: MapProgress["state"], error?: string): void {
    this.last = Date.now();
    this.publish({
      mapId: this.mapId,
      function: this.functionName,
      done: this.done,
      total: this.total,
      failed: this.failed,
      retries: this.retries,
      state,
      ...(error === undefined ? {} : { error }),
      started: this.started,
    });
  }
}
