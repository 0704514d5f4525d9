/**
 * A V8-codec payload whose large typed arrays were not copied into the serializer's buffer: the
 * serializer's bytes in parts, and between them each large view's bytes where they lie. Written out in
 * order (one writev), the parts are what `v8.DefaultSerializer` writes in one buffer, but for the padding V8
 * puts before a two-byte string to align it (counted from the last release, not from the start: a byte more
 * or less, which the deserializer skips), so nothing that reads a payload changes.
 *
 *   value ──ApartSerializer──► [serialized, view, serialized, view, …, serialized] ──writev──► a payload file
 *
 * Only for payloads written to a file (payload-file.ts): there, a megabyte item would otherwise be copied
 * into a fresh megabyte of serializer buffer (grown by doubling) only to be copied again into the file, and
 * every such buffer counts towards V8's external memory, which decides how often the whole heap is
 * marked and compacted.
 */
import v8 from "node:v8";
import { ItemChangedError } from "./errors.js";

export class SplitPayload {
  /** All its bytes. */
  readonly length: number;
  /** Each part's length when it was made: the views are the caller's arrays, read again at each send. */
  private readonly lengths: readonly number[];

  /** `parts`: at least one; the first holds the header and meta block (views are only ever in the body). */
  constructor(readonly parts: readonly Uint8Array[]) {
    this.lengths = parts.map((part) => part.byteLength);
    this.length = this.lengths.reduce((sum, n) => sum + n, 0);
  }

  /**
   * Throws ItemChangedError when a view no longer has the length it was made with (its array detached,
   * transferred or resized since): its bytes would no longer be the ones the meta and body describe.
   */
  checkIntact(): void {
    for (let i = 0; i < this.parts.length; i++)
      if (this.parts[i].byteLength !== this.lengths[i])
        throw new ItemChangedError(this.lengths[i], this.parts[i].byteLength);
  }

  /** The header and meta block, and what follows of the body up to the first view. */
  get head(): Buffer {
    const first = this.parts[0];
    return Buffer.from(first.buffer, first.byteOffset, first.byteLength);
  }

  /** Its bytes in one buffer of their own (a copy: for a payload that ends up not going through a file). */
  join(): Buffer {
    this.checkIntact();
    return Buffer.concat(this.parts, this.length);
  }
}

/** What the encoders make (chunk-codec.ts frame): one buffer, or parts when asked to leave large arrays apart. */
export type Framing<A extends number | undefined> = A extends number ? Buffer | SplitPayload : Buffer;

/** The part of Node's DefaultSerializer this one overrides (not in its type declarations). */
interface HostObjectWriter {
  _writeHostObject(view: NodeJS.ArrayBufferView): void;
}

/**
 * A DefaultSerializer that leaves the bytes of every typed array or DataView of `apartBytes` or more
 * where they lie: the serializer writes the view's type and length as always, then, where it would copy
 * the bytes, its buffer so far is taken as a part and the view itself becomes the next part. V8 keeps
 * the rest of its state (the objects seen, for references to them) across the release.
 */
export class ApartSerializer extends v8.DefaultSerializer {
  private readonly taken: Uint8Array[] = [];
  private apart = false;

  constructor(private readonly apartBytes: number) {
    super();
  }

  _writeHostObject(view: NodeJS.ArrayBufferView): void {
    this.apart = view.byteLength >= this.apartBytes;
    try {
      (v8.DefaultSerializer.prototype as unknown as HostObjectWriter)._writeHostObject.call(this, view);
    } finally {
      this.apart = false;
    }
  }

  override writeRawBytes(bytes: NodeJS.ArrayBufferView): void {
    if (!this.apart) return super.writeRawBytes(bytes);
    this.taken.push(this.releaseBuffer(), new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  /** What was written: one buffer when no view was left apart, else the parts. */
  finish(): Buffer | SplitPayload {
    const last = this.releaseBuffer();
    return this.taken.length === 0 ? last : new SplitPayload([...this.taken, last]);
  }
}
