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
 * about every second meanwhile; with none left, publishing stops.
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

export async function publishUntilAnswered(channel: CommandChannel, publication: Publication): Promise<Answers> {
  const { command, answered, targeted = false, only } = publication;
  const liveNodes = async (): Promise<Set<string>> => {
    const live = await channel.liveNodes();
    return only ? new Set([...live].filter((node) => only.has(node))) : live;
  };
  const id = channel.nextId();
  const got = new Set<string>();
  const heard = new Condition();
  const stopListening = channel.listen((envelope) => {
    if (!answered(envelope, id)) return;
    got.add(envelope.node);
    heard.wake();
  });
  const deadline = Date.now() + publication.deadlineMs;
  try {
    let live = await liveNodes();
    let lastRefresh = Date.now();
    const allAnswered = () => live.size > 0 && [...live].every((node) => got.has(node));
    for (let round = 0; ; round++) {
      if (!targeted) channel.send(command, TOPIC_ALL, id);
      else for (const node of live) if (!got.has(node)) channel.send(command, nodeTopic(node), id);
      const wait = 100 * 2 ** Math.min(round, 3);
      if (await heard.until(allAnswered, Math.min(wait, Math.max(0, deadline - Date.now())))) {
        // A node may have registered since the list was read: done only if the list is still covered.
        live = await liveNodes();
        lastRefresh = Date.now();
        if ([...live].every((node) => got.has(node))) break;
      }
      if (Date.now() >= deadline) break;
      if (Date.now() - lastRefresh > REFRESH_MS) {
        live = await liveNodes();
        lastRefresh = Date.now();
        if (live.size === 0) break;
      }
    }
    return { answered: got, missing: [...live].filter((node) => !got.has(node)) };
  } finally {
    stopListening();
  }
}
