/**
 * The text admin protocol, in gearmand 1.1.20's formats: a block of lines
 * ended by "." for listings, "OK ..." or "ERR CODE text" for the rest.
 */
import type { JobServer } from "./job-server.js";
import type { Peer } from "./peer.js";

export const SERVER_VERSION = "glimpse-cluster 0.1.0 (gearman 1.1.20 compatible)";

const VERBOSE_LEVELS = ["FATAL", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"];

function block(lines: string[]): string {
  return lines.map((line) => `${line}\n`).join("") + ".\n";
}

const err = (code: string, text: string) => `ERR ${code} ${text.replace(/ /g, "+")}\r\n`;

export function runAdminCommand(server: JobServer, peer: Peer, line: string): void {
  const words = line.trim().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return;
  const command = words[0].toLowerCase();
  const sub = words[1]?.toLowerCase();
  switch (command) {
    case "status":
      return peer.send(
        block([...server.functions.values()].map((q) => `${q.name}\t${q.queued + q.running}\t${q.running}\t${q.workers.size}`)),
      );
    case "prioritystatus":
      return peer.send(
        block([...server.functions.values()].map((q) => `${q.name}\t${q.queues[0].length}\t${q.queues[1].length}\t${q.queues[2].length}\t${q.workers.size}`)),
      );
    case "workers":
      return peer.send(
        block([...server.peers].map((p) => `${p.id} ${p.address.replace(/:\d+$/, "")} ${p.clientId} :${[...p.abilities.keys()].map((f) => ` ${f}`).join("")}`)),
      );
    case "version":
      return peer.send(`OK ${SERVER_VERSION}\n`);
    case "getpid":
      return peer.send(`OK ${process.pid}\n`);
    case "verbose":
      return peer.send(`OK ${server.verbose}\n`);
    case "maxqueue": {
      const func = words[1];
      if (!func) return peer.send(err("INCOMPLETE_ARGS", "An incomplete number of arguments was sent"));
      const numbers = words.slice(2).map(Number);
      if (numbers.some((n) => !Number.isInteger(n))) return peer.send(err("INVALID_ARGS", "maxqueue limits must be whole numbers"));
      const queue = server.queueFor(func);
      queue.maxQueue = numbers.length === 0 ? undefined : numbers.length === 1 ? [numbers[0], numbers[0], numbers[0]] : [numbers[0] ?? 0, numbers[1] ?? 0, numbers[2] ?? 0];
      return peer.send("OK\r\n");
    }
    case "show":
      if (sub === "jobs") {
        return peer.send(block([...server.jobs.values()].map((job) => `${job.handle}\t${job.retries}\t0\t${job.worker ? 0 : 1}`)));
      }
      if (sub === "unique" && words[2]?.toLowerCase() === "jobs") {
        return peer.send(block([...server.jobs.values()].filter((job) => job.unique !== "").map((job) => job.unique)));
      }
      break;
    case "cancel":
      if (sub === "job" && words[2]) {
        return peer.send(server.cancelQueued(words[2]) ? "OK\r\n" : err("UNKNOWN_JOB", ""));
      }
      break;
    case "create":
      if (sub === "function" && words[2]) {
        server.queueFor(words[2]);
        return peer.send("OK\r\n");
      }
      break;
    case "drop":
      if (sub === "function" && words[2]) {
        const queue = server.functions.get(words[2]);
        if (!queue) return peer.send(err("UNKNOWN_FUNCTION", "function not found"));
        if (queue.workers.size > 0 || queue.queued > 0 || queue.running > 0) return peer.send(err("FUNCTION_IN_USE", "function has workers or jobs"));
        server.functions.delete(words[2]);
        return peer.send("OK\r\n");
      }
      break;
    case "shutdown": {
      const graceful = sub === "graceful";
      peer.send("OK\n");
      setImmediate(() => void server.close({ graceful }).then(() => server.emitShutdown()));
      return;
    }
  }
  if (command === "verbose" && VERBOSE_LEVELS.includes(sub ?? "")) return;
  peer.send(err("UNKNOWN_COMMAND", `Unknown server command${line.trim()}`));
}
