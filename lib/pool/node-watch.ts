/**
 * A map's patience for worker nodes (the map option waitForNodesMs, [client]
 * wait_for_nodes): a map whose chunks no node takes, because no node has
 * registered its function, says so instead of waiting out every chunk's
 * timeout and retries (minutes) to end as CHUNK_TIMEOUT.
 *
 *   map begins ──► every patienceMs: a chunk taken, or finished, since the last look? ──yes──► nothing
 *                        └─ no ──► ask the job servers once (admin `workers`, NodeDirectory.survey)
 *                                    ├─ a live node serves the map's function (busy elsewhere) ──► nothing
 *                                    ├─ no job server answered ──► nothing (the connections' own errors say why)
 *                                    └─ none serves it ──► NO_NODE, naming the function and the job servers: the map ends
 *
 * It costs a healthy map one timer: the job servers are asked only once a
 * whole patience went by without a take.
 */
import { noNodeRegistered, type NodeSurvey } from "../control/errors.js";
import type { PoolError } from "./errors.js";

/** Looks come at most this often, whatever the patience (0 looks at once, then this often). */
const MIN_LOOK_MS = 100;

export class NodeWatch {
  /** The NO_NODE that ended the map, once it did. */
  error: PoolError | undefined = undefined;
  private progressed = false;
  private stopped = false;
  private asking = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly survey: () => Promise<NodeSurvey | undefined>,
    private readonly patienceMs: number,
    private readonly fail: (error: PoolError) => void,
  ) {
    this.timer = setInterval(() => this.look(), Math.max(patienceMs, MIN_LOOK_MS));
    this.timer.unref();
    // Patience 0: look once the chunks went out (this turn), not a whole interval later.
    if (patienceMs === 0) setImmediate(() => this.look());
  }

  /** A chunk of the map was taken by a node, or finished. */
  progress(): void {
    this.progressed = true;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private look(): void {
    if (this.stopped || this.asking) return;
    if (this.progressed) {
      this.progressed = false;
      return;
    }
    this.asking = true;
    this.survey().then(
      (found) => {
        this.asking = false;
        // A take that came while the job servers were asked answers the question too.
        if (this.stopped || found === undefined || this.progressed) return;
        this.error = noNodeRegistered(found, this.patienceMs);
        this.stop();
        this.fail(this.error);
      },
      () => {
        // The directory never rejects (a server that does not answer lists no one); nothing to tell.
        this.asking = false;
      },
    );
  }
}
