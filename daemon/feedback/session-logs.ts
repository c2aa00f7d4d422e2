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
 * A ring writes into one chunk at a time. A full chunk is sealed: its lines deflated on their own,
 * several times smaller (15 times for lines like row 6's events). The oldest lines give way from
 * an uncompressed chunk, the ring's first one or a sealed one taken back when its turn comes. So
 * a ring holds at most two chunks uncompressed, whatever its bound: 32 MiB of row 6's lines in 8
 * sessions take 2.2 MB sealed and at most 1 MiB not, and the chunk each line is written into is
 * one the processor wrote a moment before. Under row 9's load (8 hosts, 30 s) the daemon's peak
 * RSS went from 210-213 MiB to 173-177 MiB.
 *
 * A ring that stops being written (its session ended, or the daemon went quiet after a load) is
 * packed: the rest of its lines sealed too. A line added to a packed ring starts a new chunk.
 * Chunks are deflated one by one rather than joined first: joining a full ring's 4 MiB takes a
 * fresh buffer whose every page faults on first touch, which cost more than the deflating itself.
 */
import { MAX_FEEDBACK_LOGS_BYTES } from '../../protocol/index.js';

/** Bytes of lines kept across all sessions. */
export const MAX_SESSION_LOGS_TOTAL_BYTES = 32 * 1024 * 1024;

/**
 * Lines are written into chunks of this size: a full chunk is sealed and its memory written
 * again, and the first chunk, once its lines have all given way, serves as the next. A line
 * longer than a chunk gets a chunk its size.
 */
const CHUNK_BYTES = 64 * 1024;

export interface SessionLogs {
  /** Appends one line to the session's ring, dropping its oldest lines past the bound. */
  append(sessionId: string, line: string): void;
  /** The session's lines, oldest first, or null when there are none. */
  text(sessionId: string): string | null;
  /** Bytes of lines held in all (packed or not). */
  bytes(): number;
  /** Packs the session's ring, or every ring: seals what is left of its lines. */
  pack(sessionId?: string): void;
  /** Bytes the rings' sealed chunks take. */
  packedBytes(): number;
}

/**
 * A session's lines, oldest first: `first` from `head`, then `sealed`, then `hot` from `hotHead`
 * to `end`. No line spans two chunks: the one that does not fit in what is left of `hot` seals
 * it and starts the next.
 */
interface Ring {
  /** The oldest lines, uncompressed: the ring's first chunk, or a sealed one taken back as its lines give way. */
  first: Buffer | null;
  head: number;
  /** Full chunks' lines, each deflated, oldest first. */
  sealed: Buffer[];
  /** Bytes of `sealed`. */
  sealedBytes: number;
  /** The chunk being written. */
  hot: Buffer | null;
  /** Where `hot`'s lines start: past 0 only while it holds all of the ring's lines and the oldest gave way. */
  hotHead: number;
  end: number;
  /** A chunk emptied of its lines, for the next one needed. */
  spare: Buffer | null;
  /** Bytes of its lines (sealed or not). */
  bytes: number;
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

/** The ring's lines as they are held: uncompressed views, and sealed chunks (`true`). */
function partsOf(ring: Ring): [Buffer, boolean][] {
  const parts: [Buffer, boolean][] = [];
  if (ring.first !== null) parts.push([ring.first.subarray(ring.head), false]);
  for (const piece of ring.sealed) parts.push([piece, true]);
  if (ring.hot !== null && ring.end > ring.hotHead) parts.push([ring.hot.subarray(ring.hotHead, ring.end), false]);
  return parts;
}

const deflated = (lines: Buffer): Buffer => owned(zlib().deflateRawSync(lines, { level: 1 }));

export function createSessionLogs(perSession: number = MAX_FEEDBACK_LOGS_BYTES, total: number = MAX_SESSION_LOGS_TOTAL_BYTES): SessionLogs {
  // A Map iterates in insertion order: re-inserting on every append keeps the least recently
  // written session first.
  const rings = new Map<string, Ring>();
  /** The session written to last: its ring is the last in `rings`. */
  let latest: string | null = null;
  let held = 0;
  let packedHeld = 0;

  const textOf = (ring: Ring): string =>
    partsOf(ring)
      .map(([piece, sealed]) => (sealed ? zlib().inflateRawSync(piece) : piece).toString('utf8'))
      .join('');

  /** Adds a chunk's lines to the sealed ones, deflated. */
  function seal(ring: Ring, lines: Buffer, where: 'oldest' | 'newest'): void {
    const piece = deflated(lines);
    if (where === 'oldest') ring.sealed.unshift(piece);
    else ring.sealed.push(piece);
    ring.sealedBytes += piece.length;
    packedHeld += piece.length;
  }

  function pack(ring: Ring): void {
    if (ring.first !== null && ring.head < ring.first.length) seal(ring, ring.first.subarray(ring.head), 'oldest');
    if (ring.hot !== null && ring.end > ring.hotHead) seal(ring, ring.hot.subarray(ring.hotHead, ring.end), 'newest');
    ring.first = null;
    ring.hot = null;
    ring.spare = null;
    ring.head = 0;
    ring.hotHead = 0;
    ring.end = 0;
  }

  function forget(ring: Ring): void {
    held -= ring.bytes;
    packedHeld -= ring.sealedBytes;
  }

  /** Puts a chunk whose lines are all gone aside for reuse, if it is one of the usual size. */
  function setAside(ring: Ring, chunk: Buffer): void {
    if (chunk.byteOffset === 0 && chunk.buffer.byteLength === CHUNK_BYTES) ring.spare = Buffer.from(chunk.buffer);
  }

  /** Drops the ring's oldest line: from its first chunk, from the oldest sealed one (taken back), or from the chunk being written. */
  function dropOldest(ring: Ring): void {
    if (ring.first === null && ring.sealed.length > 0) {
      const piece = ring.sealed.shift() as Buffer;
      ring.sealedBytes -= piece.length;
      packedHeld -= piece.length;
      ring.first = owned(zlib().inflateRawSync(piece));
      ring.head = 0;
    }
    let size: number;
    if (ring.first !== null) {
      const first = ring.first;
      const next = first.indexOf(NEWLINE, ring.head) + 1;
      size = next - ring.head;
      if (next === first.length) {
        setAside(ring, first);
        ring.first = null;
        ring.head = 0;
      } else ring.head = next;
    } else {
      const hot = ring.hot as Buffer;
      const next = hot.indexOf(NEWLINE, ring.hotHead) + 1;
      size = next - ring.hotHead;
      if (next === ring.end) {
        ring.hotHead = 0;
        ring.end = 0;
      } else ring.hotHead = next;
    }
    ring.bytes -= size;
    held -= size;
  }

  /**
   * The chunk to write a line of `size` bytes into: the one being written, or a new one when it
   * has no room left. A full chunk becomes the ring's first while the ring has no older lines,
   * and is sealed otherwise (its memory then serves the next).
   */
  function roomFor(ring: Ring, size: number): Buffer {
    const hot = ring.hot;
    if (hot !== null && hot.length - ring.end >= size) return hot;
    let reuse: Buffer | null = null;
    if (hot !== null && ring.end > ring.hotHead) {
      const lines = hot.subarray(ring.hotHead, ring.end);
      if (ring.first === null && ring.sealed.length === 0) {
        ring.first = lines;
        ring.head = 0;
      } else {
        seal(ring, lines, 'newest');
        reuse = hot;
      }
    } else if (hot !== null) reuse = hot;
    ring.hot = null;
    ring.hotHead = 0;
    ring.end = 0;
    let chunk: Buffer;
    if (reuse !== null && reuse.length >= size && reuse.length === CHUNK_BYTES) chunk = reuse;
    else if (size <= CHUNK_BYTES && ring.spare !== null) {
      chunk = ring.spare;
      ring.spare = null;
    } else chunk = Buffer.allocUnsafeSlow(Math.max(size, CHUNK_BYTES));
    ring.hot = chunk;
    return chunk;
  }

  return {
    append(sessionId, line) {
      // UTF-8 takes at most 3 bytes for a UTF-16 unit (4 for the two of a surrogate pair): only a
      // line that could pass the bound by that measure is measured exactly.
      if (line.length * 3 + 1 > perSession && Buffer.byteLength(line) + 1 > perSession) return;
      let ring = rings.get(sessionId);
      if (ring === undefined) rings.set(sessionId, (ring = { first: null, head: 0, sealed: [], sealedBytes: 0, hot: null, hotHead: 0, end: 0, spare: null, bytes: 0 }));
      else if (sessionId !== latest) {
        // Moved to the end: the session written to least recently comes first. A ring written
        // to last already is there (a batch's events mostly come from one session).
        rings.delete(sessionId);
        rings.set(sessionId, ring);
      }
      latest = sessionId;
      // A line that fits in what is left of the chunk being written by that same measure is
      // written without being measured first: measuring a string costs about as much as writing it.
      let chunk = ring.hot;
      if (chunk === null || chunk.length - ring.end <= line.length * 3) chunk = roomFor(ring, Buffer.byteLength(line) + 1);
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
