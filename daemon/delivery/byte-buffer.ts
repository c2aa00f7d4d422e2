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
  /** Appends a copy of `bytes`. */
  copy(bytes: Uint8Array): void;
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

/** A {@link ByteBuffer} whose memory can become a request's. */
export interface RequestScratch extends ByteBuffer {
  /**
   * What was written, from the start, as a request to keep: in the scratch's own memory when it
   * is a request's size (the scratch takes other memory at its next write), else a copy. Its
   * memory comes back through {@link requestWritten} as a copy's would. The scratch is empty
   * after it, as after {@link ByteBuffer.reset}.
   */
  take(): Buffer;
}

/**
 * Where the lanes' OTLP writers (json-wire.ts, protobuf-wire.ts) write a request. One for both:
 * each writes a request from start to end without yielding, so they never use it at once, and a
 * daemon exporting in both formats holds one. Its memory is requests' memory
 * ({@link requestBuffer}): a request written from the start to its end is taken as it is, not
 * copied out (a JSON request of 512 records is about 700 KiB, and its copy was 3% of the
 * daemon's busy time in a profile of row 6e).
 */
export const requestScratch: RequestScratch = growingBuffer(1024 * 1024, 4 * 1024 * 1024, {
  take: (length) => Buffer.from(requestArrayBuffer(length)),
  give: requestWritten,
});

export function createByteBuffer(initialBytes: number, keepBytes: number): ByteBuffer {
  return growingBuffer(initialBytes, keepBytes, { take: (length) => Buffer.allocUnsafe(length), give: () => undefined });
}

/** Where a growing buffer's memory comes from, and goes back to when the buffer lets it go. */
interface Memory {
  take(length: number): Buffer;
  give(bytes: Buffer): void;
}

function growingBuffer(initialBytes: number, keepBytes: number, memory: Memory): RequestScratch {
  // Nothing until the first write: a daemon that never writes through it (the JSON serialiser
  // under a gRPC exporter, the journal of a daemon at rest) holds none of it.
  let bytes: Buffer = EMPTY;
  let at = 0;

  function room(more: number): void {
    if (at + more <= bytes.length) return;
    const larger = memory.take(Math.max(initialBytes, bytes.length * 2, at + more));
    bytes.copy(larger, 0, 0, at);
    memory.give(bytes);
    bytes = larger;
    holding.add(release);
  }

  function release(): number {
    if (at > 0) return 0;
    const freed = bytes.length;
    memory.give(bytes);
    bytes = EMPTY;
    holding.delete(release);
    return freed;
  }

  /** Forgets what was written; a buffer grown past `keepBytes` gives its memory back. */
  function reset(): void {
    at = 0;
    if (bytes.length > keepBytes) release();
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
    copy(from) {
      room(from.length);
      bytes.set(from, at);
      at += from.length;
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
    take() {
      if (at < POOLED_BYTES) {
        const copy = copyOf(bytes.subarray(0, at));
        reset();
        return copy;
      }
      const taken = Buffer.from(bytes.buffer, bytes.byteOffset, at);
      bytes = EMPTY;
      at = 0;
      holding.delete(release);
      return taken;
    },
    reset,
  };
}

/**
 * A copy of `bytes` to keep: small ones share Node's pool, a request's memory comes from
 * {@link requestBuffer}.
 */
export function copyOf(bytes: Uint8Array): Buffer {
  const out = requestMemory(bytes.length);
  out.set(bytes);
  return out;
}

/** Memory for `length` bytes of a request, to be written by the caller: from {@link requestBuffer} for a request's size, else Node's pool. */
export function requestMemory(length: number): Buffer {
  return length >= POOLED_BYTES ? requestBuffer(length) : Buffer.allocUnsafe(length);
}

/**
 * Memory for serialised requests, used again once a request is written: a fresh allocation of a
 * request's size is mostly pages never touched, and each first touch is a page fault, which on
 * this kind of machine cost ~15 µs (a 680 KiB request measured 760 µs to copy into fresh memory
 * with ~50 faults, against ~50 µs into memory written before). A request's memory comes back
 * through {@link requestWritten}, which only a sender that keeps no reference to the bytes once
 * its send has settled calls (the file sender, the gRPC sender); any other is collected as usual.
 */
const POOLED_BYTES = 64 * 1024;
/**
 * Requests' memory at rest, at most, in bytes. Under load a lane cuts batches faster than its
 * exporter writes them for a while, and more requests wait than 4 buffers (the bound before)
 * held: ~1 request in 5 then took fresh memory under row 6's windowed load, and about 1 in 35
 * with this bound, for 0.90x the daemon's CPU per event with the file exporter (bench:ab).
 */
export const POOL_KEPT_BYTES = 8 * 1024 * 1024;
/** A request's memory is its size rounded up to this. */
const POOL_UNIT = 64 * 1024;
const pool: ArrayBuffer[] = [];
let pooledBytes = 0;
/** Memory handed out for a request and not yet back: what may come back, once. */
const lent = new WeakSet<ArrayBuffer>();

/**
 * A buffer of `length` bytes for a request, in memory written before when some of a fitting size
 * is at rest: at most twice the request's size, so that a request waiting in an export queue
 * (whose bound counts its bytes) does not hold much more memory than that.
 */
function requestBuffer(length: number): Buffer {
  return Buffer.from(requestArrayBuffer(length), 0, length);
}

/** Memory of at least `length` bytes for a request (see {@link requestBuffer}), lent until {@link requestWritten}. */
function requestArrayBuffer(length: number): ArrayBuffer {
  let best = -1;
  for (let index = 0; index < pool.length; index++) {
    const size = (pool[index] as ArrayBuffer).byteLength;
    if (size >= length && size <= 2 * length + POOL_UNIT && (best < 0 || size < (pool[best] as ArrayBuffer).byteLength)) best = index;
  }
  const memory = best >= 0 ? (pool.splice(best, 1)[0] as ArrayBuffer) : new ArrayBuffer(Math.ceil(length / POOL_UNIT) * POOL_UNIT);
  if (best >= 0) pooledBytes -= memory.byteLength;
  lent.add(memory);
  return memory;
}

/** A request's bytes are written and nothing holds them: its memory is used again (once; bytes not from {@link requestBuffer} are ignored). */
export function requestWritten(bytes: Uint8Array): void {
  const memory = bytes.buffer;
  if (!(memory instanceof ArrayBuffer) || !lent.delete(memory)) return;
  if (memory.byteLength > POOL_KEPT_BYTES) return;
  pool.push(memory);
  pooledBytes += memory.byteLength;
  // The oldest go when the pool is full: sizes follow the requests of late.
  while (pooledBytes > POOL_KEPT_BYTES) pooledBytes -= (pool.shift() as ArrayBuffer).byteLength;
  holding.add(releasePool);
}

function releasePool(): number {
  const freed = pooledBytes;
  pool.length = 0;
  pooledBytes = 0;
  holding.delete(releasePool);
  return freed;
}
