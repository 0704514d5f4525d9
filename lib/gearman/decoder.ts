/**
 * Incremental decoder for one Gearman connection's byte stream. It accepts
 * bytes as TCP delivers them (packets split across reads, many packets in one
 * read) and hands out whole frames: binary packets, and, where allowed, text
 * admin lines (a frame whose first byte is not NUL runs to the next `\n`).
 *
 * Chunks come two ways: `push` (the decoder may keep the chunk: a stream's
 * fresh read) and `pushBorrowed` (bytes valid only during the call: a read
 * into a buffer the reader reuses). Borrowed bytes are decoded where they lie;
 * only what must outlive the call is copied: an unfinished frame, and
 * packets large enough that a receiver may keep their body.
 *
 * A violation throws a GearmanError (code PROTOCOL or PACKET_TOO_LARGE); the
 * decoder is then unusable and the connection should be closed.
 */
import { DEFAULT_MAX_PACKET_SIZE, HEADER_SIZE, magicOf, Packet, type Magic } from "./packet.js";
import { packetTooLarge, protocolError } from "./errors.js";
import { isHandedOver } from "./payload.js";

export interface FrameDecoderOptions {
  /** Called for every complete binary packet. The body is only valid during the call unless copied. */
  onPacket: (packet: Packet) => void;
  /** Called for every text line (without its line ending). If absent, text is a protocol error. */
  onText?: (line: string) => void;
  /** The magic the peer must use: "REQ" for a server reading clients and workers, "RES" for a client reading a server. */
  expect?: Magic;
  /** Largest packet body accepted, in bytes. Default 64 MiB. */
  maxPacketSize?: number;
  /** Longest text line accepted, in bytes. Default 64 KiB. */
  maxLineLength?: number;
  /** Names the peer in error messages, e.g. "127.0.0.1:53211". */
  peer?: string;
  /**
   * Every chunk pushed is memory no one else reads or writes (a TCP or TLS
   * socket's reads are fresh buffers). Default false: only frames the
   * decoder assembled itself, and chunks their writer handed over
   * (handOver, payload.ts), are marked exclusive.
   */
  freshChunks?: boolean;
}

/** The body of every packet without one. */
const EMPTY = Buffer.alloc(0);

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next frame can be decoded; -1 while reading a text line. */
  private need = HEADER_SIZE;
  private failed = false;
  /** Borrowed reads only: the frame being assembled once its header is known, in memory of its own. */
  private partial: Buffer | undefined;
  private partialUsed = 0;
  private readonly maxPacketSize: number;
  private readonly maxLineLength: number;

  constructor(private readonly options: FrameDecoderOptions) {
    this.maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
    this.maxLineLength = options.maxLineLength ?? 64 * 1024;
  }

  /** Bytes received but not yet decoded into a frame. */
  get pending(): number {
    return this.buffered + this.partialUsed;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.need >= 0 && this.options.onText && this.buffered === chunk.length && chunk[0] !== 0) this.need = -1;
    if (this.need < 0) {
      if (chunk.indexOf(0x0a) < 0) {
        if (this.buffered > this.maxLineLength)
          this.fail(protocolError(`text line longer than ${this.maxLineLength} bytes`, this.options.peer));
        return;
      }
    } else if (this.buffered < this.need) {
      return;
    }
    const assembled = this.chunks.length > 1;
    const data = assembled ? Buffer.concat(this.chunks, this.buffered) : this.chunks[0];
    this.chunks = [];
    this.buffered = 0;
    const at = this.run(data, assembled || this.options.freshChunks === true || isHandedOver(data), Infinity);
    if (at < data.length) {
      const rest = data.subarray(at);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }

  /**
   * Decodes `chunk`, valid only during this call. A packet is handed out as a
   * view of it (valid only during onPacket, not exclusive), except one whose
   * body is `copyFrom` bytes or more: that is first copied into memory of its
   * own (exclusive), so the receiver may keep it.
   */
  pushBorrowed(chunk: Buffer, copyFrom: number): void {
    if (this.failed || chunk.length === 0) return;
    let data = chunk;
    let owned = false;
    const partial = this.partial;
    if (partial !== undefined) {
      const taken = this.fill(partial, chunk);
      if (taken === chunk.length) return;
      data = chunk.subarray(taken);
    } else if (this.buffered > 0) {
      // A header or a text line cut by the previous read (a few bytes, or a line under maxLineLength): joined with this read.
      this.chunks.push(chunk);
      data = Buffer.concat(this.chunks, this.buffered + chunk.length);
      this.chunks = [];
      this.buffered = 0;
      owned = true;
    }
    const at = this.run(data, owned, owned ? Infinity : copyFrom);
    if (at < data.length) this.keep(data.subarray(at), owned);
  }

  /** Copies the front of a borrowed chunk into the frame being assembled; decodes the frame once whole. Returns the bytes taken. */
  private fill(partial: Buffer, chunk: Buffer): number {
    const need = this.need;
    let target = partial;
    if (this.partialUsed + chunk.length > partial.length && partial.length < need) {
      // Grown as bytes come, never past the frame, so a header alone does not make the server allocate its size.
      target = Buffer.allocUnsafe(Math.min(need, Math.max(partial.length * 2, this.partialUsed + chunk.length)));
      partial.copy(target, 0, 0, this.partialUsed);
      this.partial = target;
    }
    const taken = chunk.copy(target, this.partialUsed, 0, Math.min(chunk.length, need - this.partialUsed));
    this.partialUsed += taken;
    if (this.partialUsed === need) {
      this.partial = undefined;
      this.partialUsed = 0;
      this.run(target, true, Infinity);
    }
    return taken;
  }

  /** Keeps the undecoded end of a borrowed read: a frame whose size is known starts its own buffer; anything else is copied. */
  private keep(rest: Buffer, owned: boolean): void {
    if (this.need > HEADER_SIZE) {
      const partial = Buffer.allocUnsafe(Math.min(this.need, Math.max(rest.length * 2, 64 * 1024)));
      rest.copy(partial);
      this.partial = partial;
      this.partialUsed = rest.length;
    } else {
      this.chunks.push(owned ? rest : Buffer.from(rest));
      this.buffered = rest.length;
    }
  }

  private run(data: Buffer, exclusive: boolean, copyFrom: number): number {
    try {
      return this.decode(data, exclusive, copyFrom);
    } catch (error) {
      this.failed = true;
      this.partial = undefined;
      throw error;
    }
  }

  private fail(error: Error): never {
    this.failed = true;
    this.chunks = [];
    this.buffered = 0;
    this.partial = undefined;
    throw error;
  }

  /** Decodes every whole frame in `data`; returns the offset of the first undecoded byte. */
  private decode(data: Buffer, exclusive: boolean, copyFrom: number): number {
    const { onPacket, onText, expect, peer } = this.options;
    let at = 0;
    while (at < data.length) {
      if (data[at] !== 0) {
        if (!onText)
          this.fail(protocolError(`expected a binary packet, got text byte 0x${data[at].toString(16)}`, peer));
        const nl = data.indexOf(0x0a, at);
        if (nl < 0) {
          if (data.length - at > this.maxLineLength)
            this.fail(protocolError(`text line longer than ${this.maxLineLength} bytes`, peer));
          this.need = -1;
          return at;
        }
        const lineEnd = nl > at && data[nl - 1] === 0x0d ? nl - 1 : nl;
        const line = data.toString("utf8", at, lineEnd);
        at = nl + 1;
        this.need = HEADER_SIZE;
        onText(line);
        continue;
      }
      if (data.length - at < HEADER_SIZE) {
        this.need = HEADER_SIZE;
        return at;
      }
      const magic = magicOf(data.readUInt32BE(at));
      if (magic === undefined)
        this.fail(protocolError(`bad packet magic 0x${data.readUInt32BE(at).toString(16).padStart(8, "0")}`, peer));
      if (expect !== undefined && magic !== expect)
        this.fail(protocolError(`expected \\0${expect} packets, got \\0${magic}`, peer));
      const type = data.readUInt32BE(at + 4);
      const size = data.readUInt32BE(at + 8);
      if (size > this.maxPacketSize) this.fail(packetTooLarge(size, this.maxPacketSize, peer));
      if (data.length - at < HEADER_SIZE + size) {
        this.need = HEADER_SIZE + size;
        return at;
      }
      this.need = HEADER_SIZE;
      if (size === 0) {
        // GRAB_JOB, PRE_SLEEP, NOOP, NO_JOB...: no views of the read for a packet that is all header.
        at += HEADER_SIZE;
        onPacket(new Packet(magic, type, EMPTY, false, true));
        continue;
      }
      const copied = size >= copyFrom;
      // One view per packet: the body, its header right before it (Packet.frame makes the whole frame when asked).
      const body = copied
        ? Buffer.from(data.subarray(at, at + HEADER_SIZE + size)).subarray(HEADER_SIZE)
        : data.subarray(at + HEADER_SIZE, at + HEADER_SIZE + size);
      at += HEADER_SIZE + size;
      onPacket(new Packet(magic, type, body, true, exclusive || copied));
    }
    this.need = HEADER_SIZE;
    return at;
  }
}
