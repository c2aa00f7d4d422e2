/**
 * A growing byte buffer that is written, emptied and written again: what goes through it is
 * copied once into memory that lives outside V8's heap, instead of being held as strings until
 * they are joined. The text written into it is garbage at once, which a young-generation
 * collection takes cheaply.
 */
export interface ByteBuffer {
  /** Bytes written since the last {@link reset}. */
  readonly length: number;
  /** Appends `text` in `encoding` ('latin1' only for text known to be ASCII). */
  write(text: string, encoding: 'utf8' | 'latin1'): void;
  /** Appends one byte. */
  byte(value: number): void;
  /** The bytes written, as a view: valid until the next write or reset. */
  view(start?: number): Buffer;
  /** Forgets what was written from `length` on. */
  truncate(length: number): void;
  /**
   * For a writer that fills the memory itself (the protobuf serialiser): takes the first
   * `length` bytes as written, makes room for `more` after them, and returns the memory, valid
   * until the next call that may grow it.
   */
  writable(length: number, more: number): Buffer;
  /** Forgets everything; gives its memory back when a large write made it take more than `keepBytes` (and {@link releaseEmptyBuffers} at rest). */
  reset(): void;
}

/**
 * Buffers holding memory, each with what gives it back: a buffer takes its first size when it is
 * first written, a load grows it (up to its `keepBytes`), and every page it touched stays
 * resident until it lets them go.
 */
const holding = new Set<() => number>();

/**
 * Gives back the memory of every buffer that is empty (what was written is gone by the time the
 * daemon is quiet) and returns the bytes let go, for the collection that follows to free. A
 * buffer written again takes its first size again.
 */
export function releaseEmptyBuffers(): number {
  let freed = 0;
  for (const release of holding) freed += release();
  return freed;
}

const EMPTY = Buffer.alloc(0);

/**
 * Where the lanes' OTLP writers (json-wire.ts, protobuf-wire.ts) write a request before copying
 * it out at its exact size. One for both: each writes a request from start to end without
 * yielding, so they never use it at once, and a daemon exporting in both formats holds one.
 */
export const requestScratch: ByteBuffer = createByteBuffer(1024 * 1024, 4 * 1024 * 1024);

export function createByteBuffer(initialBytes: number, keepBytes: number): ByteBuffer {
  // Nothing until the first write: a daemon that never writes through it (the JSON serialiser
  // under a gRPC exporter, the journal of a daemon at rest) holds none of it.
  let bytes = EMPTY;
  let at = 0;

  function room(more: number): void {
    if (at + more <= bytes.length) return;
    const larger = Buffer.allocUnsafe(Math.max(initialBytes, bytes.length * 2, at + more));
    bytes.copy(larger, 0, 0, at);
    bytes = larger;
    holding.add(release);
  }

  function release(): number {
    if (at > 0) return 0;
    const freed = bytes.length;
    bytes = EMPTY;
    holding.delete(release);
    return freed;
  }

  return {
    get length() {
      return at;
    },
    write(text, encoding) {
      // At most 3 bytes per UTF-16 unit in UTF-8; `write` stops short when out of room.
      room(encoding === 'latin1' ? text.length : text.length * 3);
      at += bytes.write(text, at, encoding);
    },
    byte(value) {
      room(1);
      bytes[at++] = value;
    },
    view: (start = 0) => bytes.subarray(start, at),
    truncate(length) {
      at = Math.min(at, length);
    },
    writable(length, more) {
      at = Math.min(length, bytes.length);
      room(more);
      return bytes;
    },
    reset() {
      at = 0;
      if (bytes.length > keepBytes) release();
    },
  };
}
