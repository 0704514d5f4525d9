/**
 * Reads an HTTP/1.x response off a kept-alive connection, bytes as they come:
 *
 *   status line + headers (at most 64 KiB; 1xx interim responses skipped)
 *     ├─ 204 / 304              no body
 *     ├─ Transfer-Encoding: chunked   chunks (extensions ignored) until the 0 chunk, trailers skipped
 *     ├─ Content-Length: N      N bytes
 *     └─ neither                the body runs until the connection closes (not reusable)
 *
 * One request is outstanding at a time on a connection, so bytes beyond the
 * reply mean the connection cannot be trusted again (`leftover`).
 */

export interface HttpReply {
  readonly status: number;
  readonly body: Buffer;
  /** The connection may carry the next request. */
  readonly keepAlive: boolean;
}

/** The endpoint sent something that is not an HTTP reply serve can read. */
export class ReplyError extends Error {}

const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from("\r\n");
const HEAD_END = Buffer.from("\r\n\r\n");

type State = "head" | "fixed" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "until-close" | "done";

export class ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private state: State = "head";
  private status = 0;
  private keepAlive = true;
  private remaining = 0;
  private size = 0;
  private readonly parts: Buffer[] = [];
  private sawBytes = false;

  constructor(private readonly maxBodyBytes: number) {}

  /** Some bytes of a reply arrived (a connection closed before any did may be retried). */
  get started(): boolean {
    return this.sawBytes;
  }

  /** Bytes after the reply were received. */
  get leftover(): boolean {
    return this.state === "done" && this.buffer.length > 0;
  }

  /** Feeds bytes; returns the reply once it is complete. Throws a ReplyError for a reply it cannot read. */
  push(chunk: Buffer): HttpReply | undefined {
    if (chunk.length === 0) return undefined;
    this.sawBytes = true;
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.state === "done") return undefined;
    return this.advance();
  }

  /** The connection closed: completes a body that runs until the close, else throws for a reply cut short. */
  end(): HttpReply | undefined {
    if (this.state === "until-close") {
      this.state = "done";
      return this.reply(false);
    }
    if (this.state === "done") return undefined;
    throw new ReplyError(this.sawBytes ? "the reply broke off: connection closed" : "connection closed before a reply");
  }

  private advance(): HttpReply | undefined {
    for (;;) {
      switch (this.state) {
        case "head": {
          const at = this.buffer.indexOf(HEAD_END);
          if (at < 0) {
            if (this.buffer.length > MAX_HEAD_BYTES)
              throw new ReplyError(`the reply's headers are larger than ${MAX_HEAD_BYTES} bytes`);
            return undefined;
          }
          const head = this.buffer.subarray(0, at).toString("latin1");
          this.buffer = this.buffer.subarray(at + HEAD_END.length);
          if (this.readHead(head)) continue;
          if ((this.state as State) === "done") return this.reply(this.keepAlive);
          continue;
        }
        case "fixed": {
          if (!this.takeBody()) return undefined;
          this.state = "done";
          return this.reply(this.keepAlive);
        }
        case "chunk-size": {
          const at = this.buffer.indexOf(CRLF);
          if (at < 0) {
            if (this.buffer.length > 1024) throw new ReplyError("a chunk size line longer than 1024 bytes");
            return undefined;
          }
          const line = this.buffer.subarray(0, at).toString("latin1");
          this.buffer = this.buffer.subarray(at + 2);
          const hex = line.split(";")[0].trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex))
            throw new ReplyError(`a bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
          this.remaining = parseInt(hex, 16);
          this.state = this.remaining === 0 ? "trailers" : "chunk-data";
          continue;
        }
        case "chunk-data": {
          if (!this.takeBody()) return undefined;
          this.state = "chunk-end";
          continue;
        }
        case "chunk-end": {
          if (this.buffer.length < 2) return undefined;
          if (this.buffer[0] !== 0x0d || this.buffer[1] !== 0x0a) throw new ReplyError("a chunk not followed by CRLF");
          this.buffer = this.buffer.subarray(2);
          this.state = "chunk-size";
          continue;
        }
        case "trailers": {
          const at = this.buffer.indexOf(CRLF);
          if (at < 0) {
            if (this.buffer.length > MAX_HEAD_BYTES)
              throw new ReplyError(`the reply's trailers are larger than ${MAX_HEAD_BYTES} bytes`);
            return undefined;
          }
          this.buffer = this.buffer.subarray(at + 2);
          if (at > 0) continue; // a trailer line: ignored
          this.state = "done";
          return this.reply(this.keepAlive);
        }
        case "until-close": {
          if (this.buffer.length > 0) this.addBody(this.buffer);
          this.buffer = Buffer.alloc(0);
          return undefined;
        }
        case "done":
          return undefined;
      }
    }
  }

  /** Reads a status line and headers and sets the body's framing; true for a 1xx interim response (the real one follows). */
  private readHead(head: string): boolean {
    const lines = head.split(/\r?\n/);
    const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!status) throw new ReplyError(`not an HTTP/1.x reply: ${JSON.stringify(lines[0].slice(0, 60))}`);
    const code = Number(status[2]);
    if (code >= 100 && code < 200) return true;
    let contentLength: number | undefined;
    let chunked = false;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon <= 0) continue;
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      if (name === "content-length") {
        if (!/^\d{1,15}$/.test(value) || (contentLength !== undefined && contentLength !== Number(value)))
          throw new ReplyError(`a bad Content-Length ${JSON.stringify(value.slice(0, 40))}`);
        contentLength = Number(value);
      } else if (name === "transfer-encoding")
        chunked = value
          .toLowerCase()
          .split(",")
          .some((coding) => coding.trim() === "chunked");
      else if (name === "connection") connection += `${value.toLowerCase()},`;
    }
    this.status = code;
    this.keepAlive =
      status[1] === "1" ? !/(^|[\s,])close([\s,]|$)/.test(connection) : /(^|[\s,])keep-alive([\s,]|$)/.test(connection);
    if (code === 204 || code === 304) this.state = "done";
    else if (chunked) this.state = "chunk-size";
    else if (contentLength !== undefined) {
      if (contentLength > this.maxBodyBytes)
        throw new ReplyError(`the reply is larger than ${this.maxBodyBytes} bytes`);
      this.remaining = contentLength;
      this.state = contentLength === 0 ? "done" : "fixed";
    } else {
      this.state = "until-close";
      this.keepAlive = false;
    }
    return false;
  }

  /** Moves up to `remaining` buffered bytes into the body; true once `remaining` reached 0. */
  private takeBody(): boolean {
    if (this.buffer.length === 0) return false;
    const take = Math.min(this.remaining, this.buffer.length);
    this.addBody(this.buffer.subarray(0, take));
    this.buffer = this.buffer.subarray(take);
    this.remaining -= take;
    return this.remaining === 0;
  }

  private addBody(bytes: Buffer): void {
    this.size += bytes.length;
    if (this.size > this.maxBodyBytes) throw new ReplyError(`the reply is larger than ${this.maxBodyBytes} bytes`);
    this.parts.push(bytes);
  }

  private reply(keepAlive: boolean): HttpReply {
    const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    return { status: this.status, body, keepAlive };
  }
}
