/**
 * The sessions clients registered with `session/start`: their context, the tags their metrics
 * carry, and when they were last used. Bounded in number; a session unused for the idle
 * timeout is expired and counted, so a client that never sends `session/end` leaks nothing.
 */
import {
  MAX_SESSIONS,
  type MetricRecord,
  sanitizeTagValue,
  SESSION_TAG_KEYS,
  type SessionCounts,
  type SessionStart,
} from '../protocol/index.js';

export interface Session {
  readonly id: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly logUserPrompt: boolean;
  /** Codex's default session tags, sanitised. */
  readonly tags: Readonly<Record<string, string>>;
}

export interface SessionRegistry {
  /** Registers (or re-registers, replacing its context) a session; `null` when the registry is full. */
  start(params: SessionStart.Params): Session | null;
  /** Ends a session; false when there was none. */
  end(sessionId: string): boolean;
  /** The session, marked as used now; `undefined` when unknown. */
  use(sessionId: string): Session | undefined;
  /** Expires sessions unused since `now - idleTimeoutMs`; returns how many. */
  expireIdle(now: number): number;
  counts(): Omit<SessionCounts, 'logBytes' | 'logPackedBytes'>;
}

/** `onClosed` hears of each session that ended or expired. */
export function createSessionRegistry(idleTimeoutMs: number, maxSessions: number = MAX_SESSIONS, onClosed: (sessionId: string) => void = () => undefined): SessionRegistry {
  const sessions = new Map<string, { session: Session; usedAt: number }>();
  let started = 0;
  let ended = 0;
  let expired = 0;
  return {
    start(params) {
      if (!sessions.has(params.sessionId) && sessions.size >= maxSessions) return null;
      // Frozen: the lanes hold it by reference, as what each event's attributes begin with, until
      // they export it (event-lanes.ts).
      const attributes = Object.freeze(params.attributes ?? {});
      const tags: Record<string, string> = {};
      for (const key of SESSION_TAG_KEYS) {
        const value = attributes[key];
        const tag = value === undefined ? null : sanitizeTagValue(value);
        if (tag !== null) tags[key] = tag;
      }
      const session: Session = { id: params.sessionId, attributes, logUserPrompt: params.logUserPrompt === true, tags };
      if (!sessions.has(params.sessionId)) started++;
      sessions.set(params.sessionId, { session, usedAt: Date.now() });
      return session;
    },
    end(sessionId) {
      if (!sessions.delete(sessionId)) return false;
      ended++;
      onClosed(sessionId);
      return true;
    },
    use(sessionId) {
      const entry = sessions.get(sessionId);
      if (entry === undefined) return undefined;
      entry.usedAt = Date.now();
      return entry.session;
    },
    expireIdle(now) {
      let count = 0;
      for (const [id, entry] of sessions) {
        if (now - entry.usedAt < idleTimeoutMs) continue;
        sessions.delete(id);
        count++;
        onClosed(id);
      }
      expired += count;
      return count;
    },
    counts: () => ({ active: sessions.size, started, ended, expired }),
  };
}

/**
 * The record with its session's tags and `client.name` added. The record's own tags win where
 * they name the same key: the client said what it meant.
 */
export function withSessionTags(record: MetricRecord, session: Session, clientTag: string | null): MetricRecord {
  const tags: Record<string, string> = { ...session.tags };
  if (clientTag !== null) tags['client.name'] = clientTag;
  return { ...record, tags: record.tags === undefined ? tags : Object.assign(tags, record.tags) };
}
