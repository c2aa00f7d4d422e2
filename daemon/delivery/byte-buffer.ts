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
  /** Forgets everything; gives back memory past `keepBytes` that a large write made it take (and {@link shrinkGrownBuffers} the rest). */
  reset(): void;
}

/**
 * Buffers grown past their first size, each with what shrinks it back: a load grows them (up to
 * their `keepBytes`), and every page it touched stays resident until they are shrunk.
 */
const grown = new Set<() => number>();

/**
 * Gives every grown buffer that is empty its first size again (what was written is gone by the
 * time the daemon is quiet) and returns the bytes let go, for the collection that follows to free.
 */
export function shrinkGrownBuffers(): number {
  let freed = 0;
  for (const shrink of grown) freed += shrink();
  return freed;
}

export function createByteBuffer(initialBytes: number, keepBytes: number): ByteBuffer {
  let bytes = Buffer.allocUnsafe(initialBytes);
  let at = 0;

  function room(more: number): void {
    if (at + more <= bytes.length) return;
    const larger = Buffer.allocUnsafe(Math.max(bytes.length * 2, at + more));
    bytes.copy(larger, 0, 0, at);
    bytes = larger;
    grown.add(shrink);
  }

  function shrink(): number {
    if (at > 0) return 0;
    const freed = bytes.length - initialBytes;
    bytes = Buffer.allocUnsafe(initialBytes);
    grown.delete(shrink);
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
    reset() {
      at = 0;
      if (bytes.length > keepBytes) shrink();
    },
  };
}
