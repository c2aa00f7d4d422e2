/**
 * The protobuf wire format, read (and, for small answers, written): just what OTLP's messages
 * and gRPC's status details need (varints, fixed 64-bit numbers, length-delimited fields), with
 * unknown fields skipped as the format asks. Every read is bounds checked; a truncated or
 * malformed message throws {@link ProtobufError}, never reads past its bytes, and never
 * allocates more than the bytes it was given. The OTLP receivers (otlp/) decode requests with it;
 * the gRPC exporter (delivery/grpc-sender.ts) reads a collector's RetryInfo with it.
 */

export class ProtobufError extends Error {}

/** A varint's bytes, for the few small messages the receivers write (responses, status details). */
export function encodeVarint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** A length-delimited field: its key, its length, its bytes. */
export function encodeBytesField(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([(field << 3) | WIRE.bytes, ...encodeVarint(bytes.length)]), bytes]);
}


/** Wire types of protobuf (https://protobuf.dev/programming-guides/encoding/). */
export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const;

/** Nested messages deeper than this are refused: OTLP's attribute values nest, a sender's need not without end. */
const MAX_DEPTH = 32;

export class ProtobufReader {
  private at: number;
  private readonly end: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
    readonly depth = 0,
  ) {
    if (depth > MAX_DEPTH) throw new ProtobufError(`messages nested deeper than ${MAX_DEPTH}`);
    this.at = start;
    this.end = end;
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  /** The next field's number and wire type. */
  tag(): { field: number; wire: number } {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw new ProtobufError('field number 0');
    return { field, wire: key % 8 };
  }

  /** A varint as a number; exact up to 2^53, which OTLP's counts and enums stay far below. */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let index = 0; index < 10; index++) {
      if (this.at >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.bytes[this.at++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  /** A varint as a signed 64-bit integer (int64: two's complement), exact. */
  int64(): bigint {
    let result = 0n;
    let shift = 0n;
    for (let index = 0; index < 10; index++) {
      if (this.at >= this.end) throw new ProtobufError('truncated varint');
      const byte = this.bytes[this.at++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    throw new ProtobufError('varint longer than 10 bytes');
  }

  /** Eight little-endian bytes as an unsigned 64-bit integer (fixed64: times in nanoseconds). */
  fixed64(): bigint {
    if (this.end - this.at < 8) throw new ProtobufError('truncated fixed64');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8);
    this.at += 8;
    return view.getBigUint64(0, true);
  }

  /** Eight little-endian bytes as a double. */
  double(): number {
    if (this.end - this.at < 8) throw new ProtobufError('truncated double');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 8);
    this.at += 8;
    return view.getFloat64(0, true);
  }

  fixed32(): number {
    if (this.end - this.at < 4) throw new ProtobufError('truncated fixed32');
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset + this.at, 4);
    this.at += 4;
    return view.getUint32(0, true);
  }

  /** A length-delimited field's bytes, as a view. */
  bytesField(): Uint8Array {
    const length = this.varint();
    if (length > this.end - this.at) throw new ProtobufError('length-delimited field runs past its message');
    const view = this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return view;
  }

  string(): string {
    return Buffer.from(this.bytesField()).toString('utf8');
  }

  /** A nested message, read by its own reader. */
  message(): ProtobufReader {
    const length = this.varint();
    if (length > this.end - this.at) throw new ProtobufError('nested message runs past its parent');
    const reader = new ProtobufReader(this.bytes, this.at, this.at + length, this.depth + 1);
    this.at += length;
    return reader;
  }

  /** Skips a field of this wire type. */
  skip(wire: number): void {
    switch (wire) {
      case WIRE.varint:
        this.varint();
        return;
      case WIRE.fixed64:
        if (this.end - this.at < 8) throw new ProtobufError('truncated fixed64');
        this.at += 8;
        return;
      case WIRE.bytes:
        this.bytesField();
        return;
      case WIRE.fixed32:
        if (this.end - this.at < 4) throw new ProtobufError('truncated fixed32');
        this.at += 4;
        return;
      default:
        throw new ProtobufError(`wire type ${wire} is not one OTLP uses`);
    }
  }
}
