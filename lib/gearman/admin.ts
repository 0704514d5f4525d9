/**
 * The text admin protocol of a job server (gearmand's, and our embedded
 * server's): one command line out, one `OK`/`ERR` line or a block of lines
 * ended by `.` back. Commands are pipelined over one lazily opened connection
 * and answered in order; a lost connection is opened again by the next command.
 *
 *   command(line) ──► queue ──► "line\n" ──► server
 *   server ──► lines ──► ERR → AdminError | single-line command → [line] | block until "." → lines
 */
import type net from "node:net";
import { connectTo, type GearmanTlsOptions } from "./transport.js";
import { parseAddress, formatAddress } from "./address.js";
import { AdminError, connectionError, timeoutError, closedError, protocolError } from "./errors.js";

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
  /** A command without a complete reply after this many ms fails with TIMEOUT (and the connection is dropped). Default 5000. */
  timeoutMs?: number;
  /** Speak TLS to the server (as GearmanClient's tls option). Default: plain TCP. */
  tls?: GearmanTlsOptions;
}

/** Commands whose reply is one line (`OK ...` or a value), not a block ended by ".". */
const SINGLE_LINE = /^(version|getpid|maxqueue|cancel job|create function|drop function|verbose|shutdown)\b/;

interface Pending {
  readonly line: string;
  readonly lines: string[];
  readonly resolve: (lines: string[]) => void;
  readonly reject: (error: Error) => void;
}

export class AdminClient {
  readonly server: string;
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private readonly queue: Pending[] = [];
  private buffer = "";
  private closed = false;
  private readonly timeoutMs: number;
  private readonly tls: GearmanTlsOptions | undefined;

  /** `server` is "host:port" (default port 4730). */
  constructor(server: string, options: AdminOptions = {}) {
    this.server = formatAddress(parseAddress(server));
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError(`AdminClient option timeoutMs: expected a whole number ≥ 1, got ${String(timeoutMs)}`);
    this.timeoutMs = timeoutMs;
    this.tls = options.tls;
  }

  private connect(): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise((resolve, reject) => {
      const { socket, ready } = connectTo(parseAddress(this.server), { tls: this.tls });
      socket.setEncoding("utf8");
      socket.once(ready, () => {
        this.socket = socket;
        this.connecting = undefined;
        resolve(socket);
      });
      socket.on("data", (text: string) => this.onData(text));
      socket.on("error", (error) => {
        this.connecting = undefined;
        reject(connectionError(this.server, error.message, error));
      });
      socket.once("close", () => {
        this.socket = undefined;
        this.buffer = "";
        for (const pending of this.queue.splice(0)) pending.reject(connectionError(this.server, `connection closed during "${pending.line}"`));
      });
    });
    return this.connecting;
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
        pending.reject(adminError(pending.line, line));
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
    if (this.closed) throw closedError(`admin client for ${this.server}`);
    if (/[\r\n]/.test(line)) throw new TypeError(`admin command must be one line: ${JSON.stringify(line)}`);
    const socket = await this.connect();
    return new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(timeoutError(`admin command "${line}" to ${this.server}`, this.timeoutMs));
        socket.destroy();
      }, this.timeoutMs);
      this.queue.push({
        line,
        lines: [],
        resolve: (lines) => {
          clearTimeout(timer);
          resolve(lines);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      socket.write(`${line}\n`);
    });
  }

  /** `status`: one entry per function the server knows (`FUNC\tTOTAL\tRUNNING\tWORKERS`). */
  async status(): Promise<FunctionStatus[]> {
    return (await this.command("status")).map((line) => {
      const fields = line.split("\t");
      if (fields.length !== 4) throw this.badLine("status", line);
      const [func, total, running, workers] = fields;
      return { func, total: this.count("status", line, total), running: this.count("status", line, running), workers: this.count("status", line, workers) };
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
      throw new TypeError(`maxqueue ${func}: expected a whole number ≥ 0 or [high, normal, low], got ${JSON.stringify(max)}`);
    }
    await this.command(["maxqueue", func, ...limits].join(" "));
  }

  /** `show jobs`: every job the server holds. */
  async showJobs(): Promise<ShownJob[]> {
    return (await this.command("show jobs")).map((line) => {
      const fields = line.split("\t");
      if (fields.length !== 4) throw this.badLine("show jobs", line);
      const [handle, retries, ignoreJob, jobQueued] = fields;
      return { handle, retries: this.count("show jobs", line, retries), ignoreJob: this.count("show jobs", line, ignoreJob), jobQueued: this.count("show jobs", line, jobQueued) };
    });
  }

  /** `show unique jobs`: the unique id of every job the server holds. */
  async showUniqueJobs(): Promise<string[]> {
    return (await this.command("show unique jobs")).filter((line) => line !== "");
  }

  /** `cancel job`: removes a queued job (ERR UNKNOWN_JOB when the server has no such job). */
  async cancelJob(handle: string): Promise<void> {
    checkWord("cancel job", "handle", handle);
    await this.command(`cancel job ${handle}`);
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
    return protocolError(`unexpected line in the reply to admin command "${command}": ${JSON.stringify(line)}`, this.server);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => {});
    const socket = this.socket;
    if (!socket) return;
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
  if (typeof value !== "string" || !/^\S+$/.test(value)) throw new TypeError(`${command}: ${what} must be one word without spaces, got ${JSON.stringify(value)}`);
}
