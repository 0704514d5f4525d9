/**
 * The text admin protocol, in gearmand 1.1.20's formats (compared byte for
 * byte against it): listings are lines ended by a line holding ".", other
 * replies are "OK ..." or "ERR CODE text" with the text's spaces as "+".
 * Function names are byte strings (latin1), as everywhere in the server, and
 * so is every reply.
 */
import type { Scheduler } from "./scheduler.js";

export const SERVER_VERSION = "glimpse-cluster 0.1.0 (gearman 1.1.20 compatible)";

/** What an admin line asks for: the reply, and whether the server is to shut down once that reply has left. */
export interface AdminReply {
  /** A byte string (latin1); "" for none. */
  readonly text: string;
  /** Admin `shutdown [graceful]`. */
  readonly shutdown?: { readonly graceful: boolean };
}

/** `verbose` answers the log level, as gearmand does; the server has one (it logs errors only). */
const VERBOSE = "ERROR";

function block(lines: Iterable<string>): string {
  let out = "";
  for (const line of lines) out += `${line}\n`;
  return `${out}.\n`;
}

const err = (code: string, text: string) => `ERR ${code} ${text.replace(/ /g, "+")}\r\n`;

function* map<T>(items: Iterable<T>, f: (item: T) => string): Iterable<string> {
  for (const item of items) yield f(item);
}

/** Whole numbers as gearmand's maxqueue takes them; undefined for anything else. */
function limit(word: string): number | undefined {
  return /^-?\d{1,15}$/.test(word) ? Math.max(0, Number(word)) : undefined;
}

/** Runs one admin line (UTF-8 text, as the decoder delivers it) on the scheduler's state. */
export function runAdminCommand(scheduler: Scheduler, line: string): AdminReply {
  const words = Buffer.from(line, "utf8")
    .toString("latin1")
    .trim()
    .split(/[ \t]+/);
  if (words[0].toLowerCase() !== "shutdown") return { text: answer(scheduler, words) };
  const sub = words[1]?.toLowerCase();
  if (words.length > 2 || (sub !== undefined && sub !== "graceful"))
    return { text: err("INVALID_ARGUMENTS", "shutdown takes no argument but graceful") };
  return { text: "OK\r\n", shutdown: { graceful: sub === "graceful" } };
}

/** The reply to any admin command but `shutdown`. */
function answer(scheduler: Scheduler, words: readonly string[]): string {
  const command = words[0].toLowerCase();
  const sub = words[1]?.toLowerCase();
  switch (command) {
    case "":
      return "";
    case "status":
      return block(map(scheduler.functions(), (f) => `${f.name}\t${f.total}\t${f.running}\t${f.workers}`));
    case "prioritystatus":
      return block(
        map(
          scheduler.functions(),
          (f) => `${f.name}\t${f.queued[0]}\t${f.queued[1] + f.scheduled}\t${f.queued[2]}\t${f.workers}`,
        ),
      );
    case "workers": {
      // Newest connection first, and its newest function first, as gearmand lists them.
      const connections = [...scheduler.connections()].reverse();
      return block(
        map(
          connections,
          (c) =>
            `${c.id} ${c.address.replace(/:[^:]*$/, "")} ${c.clientId} :${[...c.functions]
              .reverse()
              .map((f) => ` ${f}`)
              .join("")}`,
        ),
      );
    }
    case "version":
      return `OK ${SERVER_VERSION}\n`;
    case "getpid":
      return `OK ${process.pid}\n`;
    case "verbose":
      return `OK ${VERBOSE}\n`;
    case "maxqueue": {
      const func = words[1];
      if (func === undefined)
        return err("INVALID_ARGUMENTS", "An incomplete set of arguments was sent to this command maxqueue");
      const numbers = words.slice(2, 5).map(limit);
      if (numbers.some((n) => n === undefined))
        return err("INVALID_ARGUMENTS", `maxqueue limits must be whole numbers, got "${words.slice(2).join(" ")}"`);
      const [high = 0, normal = 0, low = 0] = numbers as number[];
      // No number: back to the server default; one: every priority; more: high, normal, low (a missing one is unlimited).
      scheduler.setMaxQueue(
        func,
        numbers.length === 0 ? undefined : numbers.length === 1 ? [high, high, high] : [high, normal, low],
      );
      return "OK\r\n";
    }
    case "show":
      if (sub === "jobs" && words.length === 2) {
        // handle, retries, ignored (nobody waits for it), background
        return block(
          map(
            scheduler.jobs(),
            (job) => `${job.handle}\t${job.retries}\t${job.abandoned ? 1 : 0}\t${job.background ? 1 : 0}`,
          ),
        );
      }
      if (sub === "unique" && words[2]?.toLowerCase() === "jobs" && words.length === 3) {
        return block(map(scheduler.jobs(), (job) => job.unique));
      }
      break;
    case "cancel":
      if (sub === "job" && words.length === 3) return scheduler.cancel(words[2]) ? "OK\r\n" : "ERR UNKNOWN_JOB\r\n";
      break;
    case "create":
      if (sub === "function" && words.length === 3) {
        scheduler.createFunction(words[2]);
        return "OK\r\n";
      }
      break;
    case "drop":
      if (sub === "function" && words.length === 3) {
        switch (scheduler.dropFunction(words[2])) {
          case "unknown":
            return "ERR function not found\r\n";
          case "in use":
            return "ERR there are still connected workers or executing clients\r\n";
          case "dropped":
            return "OK\r\n";
        }
      }
      break;
  }
  return err("UNKNOWN_COMMAND", `Unknown server command${words[0]}`);
}
