/**
 * Publishing a command until every live worker node answered it. ZeroMQ
 * PUB/SUB drops what is published before a subscriber's connection is up,
 * so no single publication can be relied on and none is followed by a fixed
 * sleep: the command goes out again, 100, 200 and 400 ms apart, then every
 * 800 ms, until the nodes answered or the deadline passed.
 *
 *   send ──command channel──► nodes ──answers (log channel)──► every live node answered?
 *     ▲                                                             │ no: again after 100, 200, 400, then every 800 ms
 *     └─────────────────────────────────────────────────────────────┘ yes: read the live nodes again; done if still covered
 *
 * The live nodes (NodeDirectory: registered at the job servers) are read at the
 * start, when all of them answered (one may have registered since), and
 * about every second meanwhile, each reading beside the publishing (a job
 * server that does not answer must not eat the deadline); with none
 * registered a second after the start, publishing stops.
 */
import { TOPIC_ALL, nodeTopic, type Command, type LogEnvelope } from "../channels/messages.js";
import { Condition } from "../condition.js";

/** What publishing needs of the client's channel ends. */
export interface CommandChannel {
  /** Publishes `command` under the envelope id `id` on `topic`. */
  send(command: Command, topic: string, id: string): void;
  /** A new envelope id: answers name it. */
  nextId(): string;
  /** Hands every log message heard to `listener` until the returned function is called. */
  listen(listener: (envelope: LogEnvelope) => void): () => void;
  /** The node ids registered at the job servers now. */
  liveNodes(): Promise<Set<string>>;
}

export interface Publication {
  readonly command: Command;
  /** How long to keep publishing, in ms. */
  readonly deadlineMs: number;
  /** Whether a log message answers the command published under `id`. */
  readonly answered: (envelope: LogEnvelope, id: string) => boolean;
  /** Send to each live node that has not answered (by its own topic), not to all: a node started meanwhile must not get it. */
  readonly targeted?: boolean;
  /** Only these nodes are waited for (and, targeted, sent to): the live ones among them. Default: every live node. */
  readonly only?: ReadonlySet<string>;
}

export interface Answers {
  /** The nodes that answered. */
  readonly answered: Set<string>;
  /** The live nodes that did not answer by the deadline. */
  readonly missing: string[];
}

const REFRESH_MS = 1000;

/** One reading of the live nodes, and how many answers had come when it began. */
interface Listing {
  readonly nodes: Set<string>;
  readonly answersBefore: number;
  readonly began: number;
}

export async function publishUntilAnswered(channel: CommandChannel, publication: Publication): Promise<Answers> {
  const { command, answered, targeted = false, only } = publication;
  const id = channel.nextId();
  const got = new Set<string>();
  const heard = new Condition();
  const stopListening = channel.listen((envelope) => {
    if (!answered(envelope, id)) return;
    got.add(envelope.node);
    heard.wake();
  });
  const began = Date.now();
  const deadline = began + publication.deadlineMs;
  // The live nodes are read beside the publishing, never in its way: a job server that does not answer its admin
  // connection takes its whole admin timeout to list no one, while the nodes' answers are already coming in.
  let live: Listing | undefined;
  let listing: Promise<void> | undefined;
  let lastListing = began;
  const relist = () => {
    if (listing) return;
    const answersBefore = got.size;
    const at = (lastListing = Date.now());
    listing = channel
      .liveNodes()
      .then(
        (nodes) => {
          live = {
            nodes: only ? new Set([...nodes].filter((node) => only.has(node))) : nodes,
            answersBefore,
            began: at,
          };
        },
        () => {},
      )
      .finally(() => {
        listing = undefined;
        heard.wake();
      });
  };
  const covered = () => live !== undefined && [...live.nodes].every((node) => got.has(node));
  // Every node of a reading answered, and no answer came after it began: nobody registered since is left out.
  const done = () => covered() && live!.nodes.size > 0 && live!.answersBefore === got.size;
  // Every node of a reading answered, but answers came after it began: read again, one may have registered since.
  const confirm = () => covered() && live!.nodes.size > 0 && !listing && live!.answersBefore !== got.size;
  // Nobody registered, a second after the start: nobody to wait for.
  const nobody = () => live !== undefined && live.nodes.size === 0 && live.began - began >= REFRESH_MS;
  try {
    relist();
    // Sending to each node by its topic needs the list first.
    if (targeted) await heard.until(() => live !== undefined, Math.max(0, deadline - Date.now()));
    for (let round = 0; ; round++) {
      if (!targeted) channel.send(command, TOPIC_ALL, id);
      else if (live) for (const node of live.nodes) if (!got.has(node)) channel.send(command, nodeTopic(node), id);
      const roundEnd = Math.min(Date.now() + 100 * 2 ** Math.min(round, 3), deadline);
      for (;;) {
        if (done() || nobody()) return outcome(got, live);
        if (confirm() || (!listing && Date.now() - lastListing >= REFRESH_MS)) relist();
        const now = Date.now();
        if (now >= roundEnd) break;
        const wake = listing ? roundEnd : Math.min(roundEnd, lastListing + REFRESH_MS);
        await heard.until(() => done() || nobody() || confirm(), Math.max(0, wake - now));
      }
      if (Date.now() >= deadline) return outcome(got, live);
    }
  } finally {
    stopListening();
  }
}

function outcome(got: Set<string>, live: Listing | undefined): Answers {
  return { answered: got, missing: live ? [...live.nodes].filter((node) => !got.has(node)) : [] };
}
