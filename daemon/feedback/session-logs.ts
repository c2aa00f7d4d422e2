/**
 * The recent events of each session, as text, for feedback reports that ask for logs without
 * sending their own: what Codex keeps in its in-memory log ring (~4 MiB per session). Only what
 * the log lane carries goes in, after redaction, and it leaves the machine only in a report
 * whose sender set `includeLogs`. Bounded per session and in total: the session written to
 * least recently gives way first.
 */
import { MAX_FEEDBACK_LOGS_BYTES } from '../../protocol/index.js';

/** Bytes of lines kept across all sessions. */
export const MAX_SESSION_LOGS_TOTAL_BYTES = 32 * 1024 * 1024;

export interface SessionLogs {
  /** Appends one line to the session's ring, dropping its oldest lines past the bound. */
  append(sessionId: string, line: string): void;
  /** The session's lines, oldest first, or null when there are none. */
  text(sessionId: string): string | null;
  /** Bytes held in all. */
  bytes(): number;
}

interface Ring {
  lines: string[];
  head: number;
  bytes: number;
}

export function createSessionLogs(perSession: number = MAX_FEEDBACK_LOGS_BYTES, total: number = MAX_SESSION_LOGS_TOTAL_BYTES): SessionLogs {
  // A Map iterates in insertion order: re-inserting on every append keeps the least recently
  // written session first.
  const rings = new Map<string, Ring>();
  let held = 0;

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
      if (ring === undefined) ring = { lines: [], head: 0, bytes: 0 };
      else rings.delete(sessionId);
      rings.set(sessionId, ring);
      ring.lines.push(line);
      ring.bytes += size;
      held += size;
      while (ring.bytes > perSession) dropOldest(ring);
      while (held > total) {
        const [oldestId, oldest] = rings.entries().next().value as [string, Ring];
        if (oldest === ring && rings.size === 1) dropOldest(ring);
        else {
          held -= oldest.bytes;
          rings.delete(oldestId);
        }
      }
    },
    text(sessionId) {
      const ring = rings.get(sessionId);
      if (ring === undefined || ring.head === ring.lines.length) return null;
      return `${ring.lines.slice(ring.head).join('\n')}\n`;
    },
    bytes: () => held,
  };
}
