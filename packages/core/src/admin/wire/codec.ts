// Admin wire / codec: Kafka's big-endian primitive types (non-flexible encoding) written to and read from buffers.
//
// Only the classic encoding: int16-length strings, int32-length bytes and arrays, -1 for null. The flexible
// (compact, tagged-field) encoding is never needed because every request kandle speaks has a non-flexible version
// that Kafka 4.x still accepts.

/** A malformed answer: too short, a negative length where none may be, bytes left over. Never a crash. */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

/** Appends primitives to a growing list of chunks; `toBuffer` joins them once. */
export class Writer {
  private readonly chunks: Buffer[] = [];

  private fixed(size: number, write: (b: Buffer) => void): this {
    const b = Buffer.alloc(size);
    write(b);
    this.chunks.push(b);
    return this;
  }

  int8(v: number): this {
    return this.fixed(1, (b) => b.writeInt8(v));
  }
  int16(v: number): this {
    return this.fixed(2, (b) => b.writeInt16BE(v));
  }
  int32(v: number): this {
    return this.fixed(4, (b) => b.writeInt32BE(v));
  }
  int64(v: bigint | number): this {
    return this.fixed(8, (b) => b.writeBigInt64BE(BigInt(v)));
  }
  bool(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }

  /** int16 length + UTF-8; `null` is length −1. */
  string(v: string | null): this {
    if (v === null) return this.int16(-1);
    const bytes = Buffer.from(v, 'utf8');
    if (bytes.length > 0x7fff) throw new WireFormatError(`string of ${bytes.length} bytes is too long`);
    this.int16(bytes.length);
    this.chunks.push(bytes);
    return this;
  }

  /** int32 length + raw bytes; `null` is length −1. */
  bytes(v: Buffer | null): this {
    if (v === null) return this.int32(-1);
    this.int32(v.length);
    this.chunks.push(v);
    return this;
  }

  /** int32 count + each item; `null` is count −1. */
  array<T>(items: readonly T[] | null, each: (w: Writer, item: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const item of items) each(this, item);
    return this;
  }

  raw(b: Buffer): this {
    this.chunks.push(b);
    return this;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Reads primitives from one answer; any read past the end throws {@link WireFormatError}. */
export class Reader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  private take(size: number): number {
    if (size < 0 || this.offset + size > this.buffer.length)
      throw new WireFormatError(`answer ends after ${this.buffer.length} bytes, wanted ${size} more at ${this.offset}`);
    const at = this.offset;
    this.offset += size;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.take(1));
  }
  int16(): number {
    return this.buffer.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buffer.readInt32BE(this.take(4));
  }
  /** int64 as a number: offsets and timestamps stay far below 2^53. */
  int64(): number {
    return Number(this.buffer.readBigInt64BE(this.take(8)));
  }
  bool(): boolean {
    return this.int8() !== 0;
  }

  string(): string {
    const value = this.nullableString();
    if (value === null) throw new WireFormatError('null where a string is required');
    return value;
  }
  nullableString(): string | null {
    const length = this.int16();
    if (length < -1) throw new WireFormatError(`string length ${length}`);
    if (length === -1) return null;
    const at = this.take(length);
    return this.buffer.toString('utf8', at, at + length);
  }

  nullableBytes(): Buffer | null {
    const length = this.int32();
    if (length < -1) throw new WireFormatError(`bytes length ${length}`);
    if (length === -1) return null;
    const at = this.take(length);
    return this.buffer.subarray(at, at + length);
  }
  bytes(): Buffer {
    return this.nullableBytes() ?? Buffer.alloc(0);
  }

  /** An array; a null array (−1) reads as empty, as no answer kandle reads gives it a different meaning. */
  array<T>(each: (r: Reader) => T): T[] {
    const count = this.int32();
    if (count < -1) throw new WireFormatError(`array count ${count}`);
    // Each element takes at least one byte: a count beyond the rest is a corrupt answer, not a huge allocation.
    if (count > this.remaining()) throw new WireFormatError(`array count ${count} exceeds the answer`);
    const items: T[] = [];
    for (let i = 0; i < count; i++) items.push(each(this));
    return items;
  }

  remaining(): number {
    return this.buffer.length - this.offset;
  }
}
