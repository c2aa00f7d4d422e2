/**
 * The recent events of each session, as text, for feedback reports that ask for logs without
 * sending their own: what Codex keeps in its in-memory log ring (~4 MiB per session). Only what
 * the log lane carries goes in, after redaction, and it leaves the machine only in a report
 * whose sender set `includeLogs`. Bounded per session and in total: the session written to
 * least recently gives way first.
 *
 * A ring keeps its lines as UTF-8 bytes, each followed by '\n', in Buffers outside V8's heap. The
 * daemon appends a line for every session event it takes in (tens of thousands a second under
 * load); kept as strings, each would outlive the young generation, be promoted and die in the old
 * one, where collecting costs the most. Copied at once, the string dies young. Lines hold no
 * newline (an event's fields are JSON), so the bytes split back into them at each '\n'.
 *
 * A ring that stops being written (its session ended, or the daemon went quiet after a load) is
 * packed: each chunk's lines deflated on their own, a few times smaller, and the chunks let go. A
 * line added to a packed ring unpacks it. Chunks are deflated one by one rather than joined
 * first: joining a full ring's 4 MiB takes a fresh buffer whose every page faults on first touch,
 * which cost more than the deflating itself.
 */
import { MAX_FEEDBACK_LOGS_BYTES } from '../../protocol/index.js';

/** Bytes of lines kept across all sessions. */
export const MAX_SESSION_LOGS_TOTAL_BYTES = 32 * 1024 * 1024;

/**
 * Lines are written into chunks of this size: a full chunk is followed by a new one, and one
 * emptied by dropping its lines is reused, so a ring at its bound writes into memory it has
 * already touched and never moves its lines. A line longer than a chunk gets a chunk its size.
 */
const CHUNK_BYTES = 64 * 1024;

export interface SessionLogs {
  /** Appends one line to the session's ring, dropping its oldest lines past the bound. */
  append(sessionId: string, line: string): void;
  /** The session's lines, oldest first, or null when there are none. */
  text(sessionId: string): string | null;
  /** Bytes of lines held in all (packed or not). */
  bytes(): number;
  /** Packs the session's ring, or every ring: its chunks, deflated, until a line is added to it again. */
  pack(sessionId?: string): void;
  /** Bytes the packed rings take. */
  packedBytes(): number;
}

interface Ring {
  /**
   * The lines, oldest first, from `head` in the first chunk to `end` in the last, each ending in
   * '\n'. No line spans two chunks: the one that does not fit in what is left of the last chunk
   * starts the next, and the last is then cut (a view, not a copy) to the lines it holds.
   */
  chunks: Buffer[];
  head: number;
  end: number;
  /** A chunk emptied of its lines, for the next one needed. */
  spare: Buffer | null;
  /** Bytes of its lines (packed or not). */
  bytes: number;
  /** The ring's chunks, each deflated, in order, while packed (then it has no chunks). */
  packed: Buffer[] | null;
  /** Bytes of `packed`. */
  packedBytes: number;
}

const NEWLINE = 0x0a;

const zlib = () => process.getBuiltinModule('node:zlib');

/** Copies `bytes` into a buffer of their own: zlib hands back small outputs as views of its 64 KiB output buffer, which a small packed ring would otherwise keep whole. */
function owned(bytes: Buffer): Buffer {
  if (bytes.buffer.byteLength === bytes.length) return bytes;
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

/** The ring's lines, chunk by chunk: views of its chunks, cut to the lines they hold. */
function linesOf(ring: Ring): Buffer[] {
  const pieces = ring.chunks.slice();
  const last = pieces.length - 1;
  pieces[last] = (pieces[last] as Buffer).subarray(0, ring.end);
  pieces[0] = (pieces[0] as Buffer).subarray(ring.head);
  return pieces;
}

export function createSessionLogs(perSession: number = MAX_FEEDBACK_LOGS_BYTES, total: number = MAX_SESSION_LOGS_TOTAL_BYTES): SessionLogs {
  // A Map iterates in insertion order: re-inserting on every append keeps the least recently
  // written session first.
  const rings = new Map<string, Ring>();
  /** The session written to last: its ring is the last in `rings`. */
  let latest: string | null = null;
  let held = 0;
  let packedHeld = 0;

  const textOf = (ring: Ring): string => (ring.packed === null ? linesOf(ring) : ring.packed.map((piece) => zlib().inflateRawSync(piece))).map((piece) => piece.toString('utf8')).join('');

  function pack(ring: Ring): void {
    if (ring.packed !== null) return;
    if (ring.bytes > 0) {
      ring.packed = linesOf(ring)
        .filter((piece) => piece.length > 0)
        .map((piece) => owned(zlib().deflateRawSync(piece, { level: 1 })));
      ring.packedBytes = ring.packed.reduce((sum, piece) => sum + piece.length, 0);
      packedHeld += ring.packedBytes;
    }
    ring.chunks = [];
    ring.spare = null;
    ring.head = 0;
    ring.end = 0;
  }

  function unpack(ring: Ring): void {
    if (ring.packed === null) return;
    // The chunks as they were, each holding exactly its lines: the next line starts a new one.
    ring.chunks = ring.packed.map((piece) => owned(zlib().inflateRawSync(piece)));
    ring.head = 0;
    ring.end = (ring.chunks.at(-1) as Buffer).length;
    packedHeld -= ring.packedBytes;
    ring.packed = null;
    ring.packedBytes = 0;
  }

  function forget(ring: Ring): void {
    held -= ring.bytes;
    packedHeld -= ring.packedBytes;
  }

  /** Puts a chunk whose lines are all gone aside for reuse, if it is one of the usual size. */
  function setAside(ring: Ring, chunk: Buffer): void {
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES) ring.spare = Buffer.from(chunk.buffer);
  }

  function dropOldest(ring: Ring): void {
    const first = ring.chunks[0] as Buffer;
    const next = first.indexOf(NEWLINE, ring.head) + 1;
    const size = next - ring.head;
    ring.bytes -= size;
    held -= size;
    if (ring.chunks.length > 1 && next === first.length) {
      ring.chunks.shift();
      setAside(ring, first);
      ring.head = 0;
    } else if (ring.chunks.length === 1 && next === ring.end) {
      ring.head = 0;
      ring.end = 0;
    } else ring.head = next;
  }

  /** The chunk to write a line of `size` bytes into: the last, or a new last one if it has no room left. */
  function roomFor(ring: Ring, size: number): Buffer {
    const last = ring.chunks.length - 1;
    const tail = ring.chunks[last];
    if (tail !== undefined && tail.length - ring.end >= size) return tail;
    if (tail !== undefined) {
      // Empty, it is the ring's only chunk and too small for this line: it is put aside.
      if (ring.end === 0) setAside(ring, ring.chunks.pop() as Buffer);
      else ring.chunks[last] = tail.subarray(0, ring.end);
    }
    let chunk: Buffer;
    if (size <= CHUNK_BYTES && ring.spare !== null) {
      chunk = ring.spare;
      ring.spare = null;
    } else chunk = Buffer.allocUnsafeSlow(Math.max(size, CHUNK_BYTES));
    ring.chunks.push(chunk);
    ring.end = 0;
    return chunk;
  }

  return {
    append(sessionId, line) {
      // UTF-8 takes at most 3 bytes for a UTF-16 unit (4 for the two of a surrogate pair): only a
      // line that could pass the bound by that measure is measured exactly.
      if (line.length * 3 + 1 > perSession && Buffer.byteLength(line) + 1 > perSession) return;
      let ring = rings.get(sessionId);
      if (ring === undefined) rings.set(sessionId, (ring = { chunks: [], head: 0, end: 0, spare: null, bytes: 0, packed: null, packedBytes: 0 }));
      else if (sessionId !== latest) {
        // Moved to the end: the session written to least recently comes first. A ring written
        // to last already is there (a batch's events mostly come from one session).
        rings.delete(sessionId);
        rings.set(sessionId, ring);
      }
      latest = sessionId;
      unpack(ring);
      // A line that fits in what is left of the last chunk by that same measure is written without
      // being measured first: measuring a string costs about as much as writing it.
      let chunk = ring.chunks.at(-1);
      if (chunk === undefined || chunk.length - ring.end <= line.length * 3) chunk = roomFor(ring, Buffer.byteLength(line) + 1);
      const size = chunk.write(line, ring.end) + 1;
      chunk[ring.end + size - 1] = NEWLINE;
      ring.end += size;
      // Within the bound itself, the new line is never one of those that give way.
      while (ring.bytes + size > perSession) dropOldest(ring);
      ring.bytes += size;
      held += size;
      while (held > total) {
        const [oldestId, oldest] = rings.entries().next().value as [string, Ring];
        if (oldest === ring && rings.size === 1) dropOldest(ring);
        else {
          forget(oldest);
          rings.delete(oldestId);
        }
      }
    },
    text(sessionId) {
      const ring = rings.get(sessionId);
      if (ring === undefined || ring.bytes === 0) return null;
      return textOf(ring);
    },
    bytes: () => held,
    pack(sessionId) {
      if (sessionId === undefined) for (const ring of rings.values()) pack(ring);
      else {
        const ring = rings.get(sessionId);
        if (ring !== undefined) pack(ring);
      }
    },
    packedBytes: () => packedHeld,
  };
}
