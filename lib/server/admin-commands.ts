/**
 * The text admin protocol, in gearmand 1.1.20's formats (compared byte for
 * byte against it): listings are lines ended by a line holding ".", other
 * replies are "OK ..." or "ERR CODE text" with the text's spaces as "+".
 * Function names are byte strings (latin1), as everywhere in the server.
 */
import type { JobServer } from "./job-server.js";
import type { Peer } from "./peer.js";

export const SERVER_VERSION = "glimpse-cluster 0.1.0 (gearman 1.1.20 compatible)";

function block(lines: Iterable<string>): string {
  let out = "";
  for (const line of lines) out += `${line}\n`;
  return `${out}.\n`;
}

const err = (code: string, text: string) => `ERR ${code} ${text.replace(/ /g, "+")}\r\n`;

function* map<T>(items: Iterable<T>, f: (item: T) => string | undefined): Iterable<string> {
  for (const item of items) {
    const line = f(item);
    if (line !== undefined) yield line;
  }
}

/** Whole numbers as gearmand's maxqueue takes them; undefined for anything else. */
function limit(word: string): number | undefined {
  return /^-?\d{1,15}$/.test(word) ? Math.max(0, Number(word)) : undefined;
}

export function runAdminCommand(server: JobServer, peer: Peer, line: string): void {
  const words = Buffer.from(line, "utf8").toString("latin1").trim().split(/[ \t]+/);
  const command = words[0].toLowerCase();
  const sub = words[1]?.toLowerCase();
  switch (command) {
    case "":
      return;
    case "status":
      return peer.send(Buffer.from(block(map(server.functions.values(), (q) => `${q.name}\t${q.total}\t${q.running}\t${q.workers.size}`)), "latin1"));
    case "prioritystatus":
      return peer.send(
        Buffer.from(
          block(map(server.functions.values(), (q) => `${q.name}\t${q.queues[0].length}\t${q.queues[1].length + q.scheduled}\t${q.queues[2].length}\t${q.workers.size}`)),
          "latin1",
        ),
      );
    case "workers": {
      // Newest connection first, and its newest function first, as gearmand lists them.
      const peers = [...server.peers].reverse();
      const line = (p: Peer) => `${p.id} ${p.address.replace(/:[^:]*$/, "")} ${p.clientId} :${[...p.abilities.keys()].reverse().map((f) => ` ${f}`).join("")}`;
      return peer.send(Buffer.from(block(map(peers, line)), "latin1"));
    }
    case "version":
      return peer.send(`OK ${SERVER_VERSION}\n`);
    case "getpid":
      return peer.send(`OK ${process.pid}\n`);
    case "verbose":
      return peer.send(`OK ${server.verbose}\n`);
    case "maxqueue": {
      const func = words[1];
      if (func === undefined) return peer.send(err("INVALID_ARGUMENTS", "An incomplete set of arguments was sent to this command maxqueue"));
      const numbers = words.slice(2, 5).map(limit);
      if (numbers.some((n) => n === undefined)) return peer.send(err("INVALID_ARGUMENTS", `maxqueue limits must be whole numbers, got "${words.slice(2).join(" ")}"`));
      const [high = 0, normal = 0, low = 0] = numbers as number[];
      const queue = server.queueFor(func);
      // No number: back to the server default; one: every priority; more: high, normal, low (a missing one is unlimited).
      queue.maxQueue = numbers.length === 0 ? undefined : numbers.length === 1 ? [high, high, high] : [high, normal, low];
      return peer.send("OK\r\n");
    }
    case "show":
      if (sub === "jobs" && words.length === 2) {
        // handle, retries, ignored (nobody waits for it), background
        return peer.send(Buffer.from(block(map(server.jobs.values(), (job) => `${server.handleOf(job)}\t${job.retries}\t${job.abandoned ? 1 : 0}\t${job.background ? 1 : 0}`)), "latin1"));
      }
      if (sub === "unique" && words[2]?.toLowerCase() === "jobs" && words.length === 3) {
        return peer.send(Buffer.from(block(map(server.jobs.values(), (job) => job.unique)), "latin1"));
      }
      break;
    case "cancel":
      if (sub === "job" && words.length === 3) {
        return peer.send(server.cancelQueued(words[2]) ? "OK\r\n" : "ERR UNKNOWN_JOB\r\n");
      }
      break;
    case "create":
      if (sub === "function" && words.length === 3) {
        server.queueFor(words[2]);
        return peer.send("OK\r\n");
      }
      break;
    case "drop":
      if (sub === "function" && words.length === 3) {
        const queue = server.functions.get(words[2]);
        if (!queue) return peer.send("ERR function not found\r\n");
        if (queue.workers.size > 0 || queue.total > 0) return peer.send("ERR there are still connected workers or executing clients\r\n");
        server.functions.delete(words[2]);
        return peer.send("OK\r\n");
      }
      break;
    case "shutdown": {
      if (words.length > 2 || (sub !== undefined && sub !== "graceful")) return peer.send(err("INVALID_ARGUMENTS", "shutdown takes no argument but graceful"));
      peer.send("OK\r\n");
      peer.flush();
      setImmediate(() => void server.close({ graceful: sub === "graceful" }).then(() => server.emitShutdown()));
      return;
    }
  }
  peer.send(Buffer.from(err("UNKNOWN_COMMAND", `Unknown server command${words[0]}`), "latin1"));
}
