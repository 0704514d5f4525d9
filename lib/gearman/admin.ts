/**
 * The text admin protocol of a job server (gearmand's, and our embedded
 * server's): one command line out, one `OK`/`ERR` line or a block of lines
 * ended by `.` back. Commands are pipelined over one lazily opened connection
 * and answered in order; a lost connection is opened again by the next command.
 *
 *   command(line) ──► queue ──► "line\n" ──► server
 *   server ──► lines ──► ERR → AdminError | single-line command → [line] | block until "." → lines
 *
 * The connection carries bytes: lines are read as byte strings (latin1) and
 * given as UTF-8 text, except job handles, which stay byte strings both ways
 * (job-handle.ts), so `show jobs` and `cancel job` agree with the packets.
 */
import { ArgumentError } from "../argument-error.js";
import { connectTo, type GearmanTlsOptions, type ServerStream, type StreamOpener } from "./transport.js";
import { parseAddress, formatAddress, type ServerAddress } from "./address.js";
import { AdminError, connectionError, timeoutError, closedError, protocolError } from "./errors.js";
import { CONNECTION_RULES } from "./connection-options.js";
import { optionsSchema, whole, type RulesOf } from "../options-schema.js";
import { handleBytes } from "./job-handle.js";

export interface FunctionStatus {
  readonly func: string;
  /** Jobs queued or running. */
  readonly total: number;
  readonly running: number;
  /** Workers that registered the function. */
  readonly workers: number;
}

export interface WorkerInfo {
  readonly fd: number;
  readonly ip: string;
  /** The worker's SET_CLIENT_ID, or "-". */
  readonly clientId: string;
  readonly functions: readonly string[];
}

/** One line of `show jobs`. */
export interface ShownJob {
  readonly handle: string;
  /** Times the job was requeued after its worker dropped. */
  readonly retries: number;
  /** 1 when the job was cancelled (gearmand drops it lazily). */
  readonly ignoreJob: number;
  /** 1 when the job is queued (not running). */
  readonly jobQueued: number;
}

export interface AdminOptions {
  /** A command without a complete reply after this many ms (connecting included) fails with TIMEOUT, and the connection is dropped. Default 5000. */
  timeoutMs?: number;
  /** Speak TLS to the server (as GearmanClient's tls option). Default: plain TCP. */
  tls?: GearmanTlsOptions;
  /**
   * Opens the byte stream to the server yourself, as GearmanClient's `open`:
   * return undefined for the usual TCP (or TLS) connection. For a JobServer
   * in this process: `open: () => server.connectInProcess()`.
   */
  open?: StreamOpener;
}

const ADMIN = optionsSchema("AdminClient", {
  timeoutMs: whole(1).default(5000),
  tls: CONNECTION_RULES.tls,
  open: CONNECTION_RULES.open,
} satisfies RulesOf<AdminOptions>);

/** Commands whose reply is one line (`OK ...` or a value), not a block ended by ".". */
const SINGLE_LINE = /^(version|getpid|maxqueue|cancel job|create function|drop function|verbose|shutdown)\b/;

interface Pending {
  /** The command as text (for replies and errors). */
  readonly line: string;
  /** The reply's lines so far, as byte strings. */
  readonly lines: string[];
  readonly resolve: (lines: string[]) => void;
  readonly reject: (error: Error) => void;
}

export class AdminClient {
  /** "host:port" of the server. */
  readonly server: string;
  private readonly address: ServerAddress;
  /** The connection, open or opening. */
  private stream: ServerStream | undefined;
  /** Resolves with `stream` once the server speaks (after TLS, if any). */
  private ready: Promise<ServerStream> | undefined;
  private readonly queue: Pending[] = [];
  private buffer = "";
  private closed = false;
  /** Why the connection is being dropped: a command the server did not answer in time. */
  private silence: Error | undefined;
  private readonly timeoutMs: number;
  private readonly tls: GearmanTlsOptions | undefined;
  private readonly open: StreamOpener | undefined;

  /** `server` is "host:port" (default port 4730). */
  constructor(server: string, options: AdminOptions = {}) {
    this.address = parseAddress(server, "AdminClient server");
    this.server = formatAddress(this.address);
    ({ timeoutMs: this.timeoutMs, tls: this.tls, open: this.open } = ADMIN.fill(options));
  }

  private connect(): Promise<ServerStream> {
    this.ready ??= new Promise((resolve, reject) => {
      const opened = this.open?.(this.address);
      const { socket, ready } = opened
        ? { socket: opened, ready: "connect" }
        : connectTo(this.address, { tls: this.tls });
      this.stream = socket;
      let failure: Error | undefined;
      socket.setEncoding("latin1");
      socket.once(ready, () => resolve(socket));
      socket.on("data", (text: string) => this.onData(text));
      socket.on("error", (error) => {
        failure ??= connectionError(this.server, error.message, error);
      });
      socket.once("close", () => {
        // Dropped because the server left a command unanswered: what waited on it is unanswered for that reason too.
        const silence = this.silence;
        this.silence = undefined;
        if (this.stream === socket) {
          this.stream = undefined;
          this.ready = undefined;
        }
        this.buffer = "";
        reject(silence ?? failure ?? connectionError(this.server, "connection closed before the server spoke"));
        for (const pending of this.queue.splice(0))
          pending.reject(
            silence ?? connectionError(this.server, `connection closed during "${pending.line}"`, failure),
          );
      });
    });
    return this.ready;
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      const pending = this.queue[0];
      if (!pending) continue;
      if (line.startsWith("ERR ")) {
        this.queue.shift();
        pending.reject(adminError(pending.line, utf8(line)));
      } else if (SINGLE_LINE.test(pending.line)) {
        this.queue.shift();
        pending.resolve([line]);
      } else if (line === ".") {
        this.queue.shift();
        pending.resolve(pending.lines);
      } else {
        pending.lines.push(line);
      }
    }
  }

  /** Sends one command line; resolves with the reply's lines (without the final "."). */
  async command(line: string): Promise<string[]> {
    if (typeof line !== "string" || /[\r\n]/.test(line))
      throw new ArgumentError("admin command", `must be one line of text, got ${JSON.stringify(line)}`);
    return (await this.exchange(line, Buffer.from(`${line}\n`))).map(utf8);
  }

  /** Sends `bytes` (one command line, shown as `line`); resolves with the reply's lines as byte strings. */
  private async exchange(line: string, bytes: Buffer): Promise<string[]> {
    if (this.closed) throw closedError(`admin client for ${this.server}`);
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const what = `admin command "${line}" to ${this.server}`;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(timeoutError(what, this.timeoutMs));
      }, this.timeoutMs);
    });
    try {
      const socket = await Promise.race([this.connect(), deadline]);
      return await Promise.race([
        new Promise<string[]>((resolve, reject) => {
          this.queue.push({ line, lines: [], resolve, reject });
          socket.write(bytes);
        }),
        deadline,
      ]);
    } catch (error) {
      // A reply that never came: the connection cannot tell later replies apart, so it goes.
      if (timedOut && this.stream) {
        this.silence = error as Error;
        this.stream.destroy();
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** `status`: one entry per function the server knows (`FUNC\tTOTAL\tRUNNING\tWORKERS`). */
  async status(): Promise<FunctionStatus[]> {
    return (await this.command("status")).map((line) => {
      const fields = line.split("\t");
      if (fields.length !== 4) throw this.badLine("status", line);
      const [func, total, running, workers] = fields;
      return {
        func,
        total: this.count("status", line, total),
        running: this.count("status", line, running),
        workers: this.count("status", line, workers),
      };
    });
  }

  /** `workers`: one entry per connection (`FD IP CLIENT-ID : FUNC...`; clients and admin connections too, with no functions). */
  async workers(): Promise<WorkerInfo[]> {
    return (await this.command("workers")).map((line) => {
      const m = /^(\d+) (\S+) (\S+) :(.*)$/.exec(line);
      if (!m) throw this.badLine("workers", line);
      const functions = m[4].trim();
      return { fd: Number(m[1]), ip: m[2], clientId: m[3], functions: functions === "" ? [] : functions.split(/\s+/) };
    });
  }

  /** `version`, without the "OK ". */
  async version(): Promise<string> {
    return this.okValue("version");
  }

  /** `getpid`: the server's process id. */
  async getpid(): Promise<number> {
    const text = await this.okValue("getpid");
    return this.count("getpid", text, text);
  }

  /**
   * `maxqueue`: limits the queue of `func` to `max` jobs, one number for every
   * priority or [high, normal, low]. Without `max`, removes the limit.
   * gearmand applies it only to functions it already knows.
   */
  async maxqueue(func: string, max?: number | readonly [high: number, normal: number, low: number]): Promise<void> {
    checkWord("maxqueue", "function", func);
    const limits = max === undefined ? [] : typeof max === "number" ? [max] : [...max];
    if ((Array.isArray(max) && limits.length !== 3) || limits.some((n) => !Number.isInteger(n) || n < 0)) {
      throw new ArgumentError(
        `maxqueue ${func}`,
        `expected a whole number ≥ 0 or [high, normal, low], got ${JSON.stringify(max)}`,
      );
    }
    await this.command(["maxqueue", func, ...limits].join(" "));
  }

  /** `show jobs`: every job the server holds. */
  async showJobs(): Promise<ShownJob[]> {
    // Byte strings: a handle keeps its bytes; the other fields are numbers.
    return (await this.exchange("show jobs", Buffer.from("show jobs\n"))).map((line) => {
      const fields = line.split("\t");
      if (fields.length !== 4) throw this.badLine("show jobs", line);
      const [handle, retries, ignoreJob, jobQueued] = fields;
      return {
        handle,
        retries: this.count("show jobs", line, retries),
        ignoreJob: this.count("show jobs", line, ignoreJob),
        jobQueued: this.count("show jobs", line, jobQueued),
      };
    });
  }

  /** `show unique jobs`: the unique id of every job the server holds. */
  async showUniqueJobs(): Promise<string[]> {
    return (await this.command("show unique jobs")).filter((line) => line !== "");
  }

  /** `cancel job`: removes a queued job (ERR UNKNOWN_JOB when the server has no such job). */
  async cancelJob(handle: string): Promise<void> {
    checkWord("cancel job", "handle", handle);
    await this.exchange(
      `cancel job ${handle}`,
      Buffer.concat([Buffer.from("cancel job "), handleBytes(handle), NEWLINE]),
    );
  }

  /** `create function`: makes the function known (gearmand 1.1.20 drops the name's last character). */
  async createFunction(func: string): Promise<void> {
    checkWord("create function", "function", func);
    await this.command(`create function ${func}`);
  }

  /** `drop function`: forgets a function with no jobs and no workers. */
  async dropFunction(func: string): Promise<void> {
    checkWord("drop function", "function", func);
    await this.command(`drop function ${func}`);
  }

  private async okValue(command: string): Promise<string> {
    const [line] = await this.command(command);
    return line.replace(/^OK\s*/, "").trim();
  }

  private count(command: string, line: string, field: string): number {
    const n = Number(field);
    if (field === "" || !Number.isSafeInteger(n) || n < 0) throw this.badLine(command, line);
    return n;
  }

  private badLine(command: string, line: string): Error {
    return protocolError(
      `unexpected line in the reply to admin command "${command}": ${JSON.stringify(line)}`,
      this.server,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    // A command waiting for the connection writes its line first.
    await this.ready?.catch(() => {});
    const socket = this.stream;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.end();
      setTimeout(() => socket.destroy(), 500).unref();
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const NEWLINE = Buffer.from("\n");

/** A line read as a byte string, as the UTF-8 text it holds. */
function utf8(line: string): string {
  return Buffer.from(line, "latin1").toString("utf8");
}

/** `ERR CODE text+with+pluses`; gearmand 1.1.20 also sends `ERR function not found` (no code): its errCode is then "UNSPECIFIED". */
function adminError(command: string, line: string): AdminError {
  const rest = line.slice(4).trim();
  const space = rest.indexOf(" ");
  const first = space < 0 ? rest : rest.slice(0, space);
  const coded = /^[A-Z][A-Z_]*$/.test(first);
  const text = (coded ? (space < 0 ? "" : rest.slice(space + 1)) : rest).replace(/\+/g, " ");
  return new AdminError(command, coded ? first : "UNSPECIFIED", text);
}

function checkWord(command: string, what: string, value: unknown): void {
  if (typeof value !== "string" || !/^\S+$/.test(value))
    throw new ArgumentError(`${command} ${what}`, `must be one word without spaces, got ${JSON.stringify(value)}`);
}
