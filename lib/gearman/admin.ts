/**
 * The text admin protocol of a job server (gearmand's, and our embedded
 * server's): one command line out, one `OK`/`ERR` line or a block of lines
 * ended by `.` back. Commands are sent one at a time over one connection.
 */
import net from "node:net";
import { parseAddress, formatAddress } from "./address.js";
import { AdminError, connectionError, timeoutError, closedError } from "./errors.js";

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

export interface ShownJob {
  readonly handle: string;
  readonly retries: number;
  readonly ignoreJob: number;
  readonly jobQueued: number;
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

  constructor(server: string, options: { timeoutMs?: number } = {}) {
    this.server = formatAddress(parseAddress(server));
    this.timeoutMs = options.timeoutMs ?? 5000;
  }

  private connect(): Promise<net.Socket> {
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise((resolve, reject) => {
      const { host, port } = parseAddress(this.server);
      const socket = net.connect({ host, port });
      socket.setEncoding("utf8");
      socket.once("connect", () => {
        this.socket = socket;
        this.connecting = undefined;
        resolve(socket);
      });
      socket.on("data", (text: string) => this.onData(text));
      socket.once("error", (error) => {
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
        const [, code = "UNKNOWN", ...rest] = line.split(" ");
        pending.reject(new AdminError(pending.line, code, rest.join(" ").replace(/\+/g, " ")));
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

  async status(): Promise<FunctionStatus[]> {
    return (await this.command("status")).map((line) => {
      const [func, total, running, workers] = line.split("\t");
      return { func, total: Number(total), running: Number(running), workers: Number(workers) };
    });
  }

  async workers(): Promise<WorkerInfo[]> {
    return (await this.command("workers")).map((line) => {
      const [head, tail = ""] = line.split(" :");
      const [fd, ip, clientId] = head.trim().split(/\s+/);
      return { fd: Number(fd), ip, clientId, functions: tail.trim() === "" ? [] : tail.trim().split(/\s+/) };
    });
  }

  async version(): Promise<string> {
    return (await this.command("version"))[0].replace(/^OK\s*/, "");
  }

  async getpid(): Promise<number> {
    return Number((await this.command("getpid"))[0].replace(/^OK\s*/, ""));
  }

  /** Sets the queue limit of a function: one number for all priorities, or [high, normal, low]. Without `max`, clears it. */
  async maxqueue(func: string, max?: number | readonly [number, number, number]): Promise<void> {
    const limit = max === undefined ? "" : typeof max === "number" ? ` ${max}` : ` ${max.join(" ")}`;
    await this.command(`maxqueue ${func}${limit}`);
  }

  async showJobs(): Promise<ShownJob[]> {
    return (await this.command("show jobs")).map((line) => {
      const [handle, retries, ignoreJob, jobQueued] = line.split("\t");
      return { handle, retries: Number(retries), ignoreJob: Number(ignoreJob), jobQueued: Number(jobQueued) };
    });
  }

  async showUniqueJobs(): Promise<string[]> {
    return (await this.command("show unique jobs")).filter((line) => line !== "");
  }

  async cancelJob(handle: string): Promise<void> {
    await this.command(`cancel job ${handle}`);
  }

  async createFunction(func: string): Promise<void> {
    await this.command(`create function ${func}`);
  }

  async dropFunction(func: string): Promise<void> {
    await this.command(`drop function ${func}`);
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
