/**
 * The recent events of each session, as text, for feedback reports that ask for logs without
 * sending their own: what Codex keeps in its in-memory log ring (~4 MiB per session). Only what
 * the log lane carries goes in, after redaction, and it leaves the machine only in a report
 * whose sender set `includeLogs`. Bounded per session and in total: the session written to
 * least recently gives way first.
 *
 * A ring that stops being written (its session ended, or the daemon went quiet after a load) is
 * packed: its text deflated into one Buffer, a few times smaller than its lines, which otherwise
 * stay in V8's heap for as long as the daemon lives. A line added to a packed ring unpacks it.
 * Lines hold no newline (an event's fields are JSON), so the text splits back into them.
 */
import { MAX_FEEDBACK_LOGS_BYTES } from '../../protocol/index.js';

/** Bytes of lines kept across all sessions. */
export const MAX_SESSION_LOGS_TOTAL_BYTES = 32 * 1024 * 1024;

export interface SessionLogs {
  /** Appends one line to the session's ring, dropping its oldest lines past the bound. */
  append(sessionId: string, line: string): void;
  /** The session's lines, oldest first, or null when there are none. */
  text(sessionId: string): string | null;
  /** Bytes of lines held in all (packed or not). */
  bytes(): number;
  /** Packs the session's ring, or every ring: its text, deflated, until a line is added to it again. */
  pack(sessionId?: string): void;
  /** Bytes the packed rings take. */
  packedBytes(): number;
}

interface Ring {
  lines: string[];
  head: number;
  bytes: number;
  /** The ring's text, deflated, while packed (then `lines` is empty). */
  packed: Buffer | null;
}

const zlib = () => process.getBuiltinModule('node:zlib');

export function createSessionLogs(perSession: number = MAX_FEEDBACK_LOGS_BYTES, total: number = MAX_SESSION_LOGS_TOTAL_BYTES): SessionLogs {
  // A Map iterates in insertion order: re-inserting on every append keeps the least recently
  // written session first.
  const rings = new Map<string, Ring>();
  let held = 0;
  let packedHeld = 0;

  const textOf = (ring: Ring): string => (ring.packed === null ? `${ring.lines.slice(ring.head).join('\n')}\n` : zlib().inflateRawSync(ring.packed).toString('utf8'));

  function pack(ring: Ring): void {
    if (ring.packed !== null || ring.head === ring.lines.length) return;
    ring.packed = zlib().deflateRawSync(textOf(ring), { level: 1 });
    packedHeld += ring.packed.length;
    ring.lines = [];
    ring.head = 0;
  }

  function unpack(ring: Ring): void {
    if (ring.packed === null) return;
    const text = textOf(ring);
    packedHeld -= ring.packed.length;
    ring.packed = null;
    ring.lines = text.slice(0, -1).split('\n');
  }

  function forget(ring: Ring): void {
    held -= ring.bytes;
    if (ring.packed !== null) packedHeld -= ring.packed.length;
  }

  function dropOldest(ring: Ring): void {
    const line = ring.lines[ring.head] as string;
    ring.head++;
    const size = Buffer.byteLength(line) + 1;
    ring.bytes -= size;
    held -= size;
    if (ring.head > 1024 && ring.head * 2 > ring.lines.length) {
      ring.lines = ring.lines.slice(ring.head);
      ring.head = 0;
    }
  }

  return {
    append(sessionId, line) {
      const size = Buffer.byteLength(line) + 1;
      if (size > perSession) return;
      let ring = rings.get(sessionId);
      if (ring === undefined) ring = { lines: [], head: 0, bytes: 0, packed: null };
      else rings.delete(sessionId);
      rings.set(sessionId, ring);
      unpack(ring);
      ring.lines.push(line);
      ring.bytes += size;
      held += size;
      while (ring.bytes > perSession) dropOldest(ring);
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
      if (ring === undefined || (ring.packed === null && ring.head === ring.lines.length)) return null;
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
