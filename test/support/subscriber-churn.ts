/**
 * Bound subscribers closed while their publishers disconnect, many at once: `node subscriber-churn.js ROUNDS`.
 * Each round opens 10 LoopingSubscribers bound on free ports (each with its receive pending), connects 4
 * publishers to each, waits until every publisher has been heard, then closes the publishers and, a moment
 * later or at once, the subscriber. Prints "done" and exits 0; a socket used from two threads at once aborts
 * the process (libzmq assertions) instead, which the test reads from the exit signal and stderr.
 */
import * as zmq from "zeromq";
import { LoopingSubscriber } from "../../lib/channels/subscriber.js";

const rounds = Number(process.argv[2] ?? 200);

async function churn(round: number): Promise<void> {
  const subscriber = new LoopingSubscriber();
  let heard = 0;
  await subscriber.open({ url: "tcp://127.0.0.1:0", bind: true }, [""], () => heard++);
  const publishers = Array.from({ length: 4 }, () => {
    const publisher = new zmq.Publisher({ linger: 0 });
    publisher.connect(subscriber.endpoint);
    return publisher;
  });
  while (heard < publishers.length) {
    await Promise.all(publishers.map((publisher) => publisher.send(["t", "x"])));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  for (const publisher of publishers) {
    publisher.send(["t", "y"]).catch(() => {});
    publisher.close();
  }
  // The disconnects reach the subscriber's socket as commands while it closes: sometimes at once, sometimes
  // a little later.
  if (round % 3 !== 0) await new Promise((resolve) => setTimeout(resolve, round % 3));
  await subscriber.close();
}

for (let round = 0; round < rounds; round++) await Promise.all(Array.from({ length: 10 }, () => churn(round)));
process.stdout.write("done\n");
