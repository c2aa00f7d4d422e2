/**
 * Sentry's side of a feedback upload: the DSN, the envelope (an `event` item, one `attachment`
 * item per attachment and the logs as `codex-logs.log`, as Codex sends its `/feedback`), and
 * Sentry's rate-limit header. Pure: upload.ts sends what this builds.
 * https://develop.sentry.dev/sdk/data-model/envelopes/
 */
import { MAX_FEEDBACK_TAG_VALUE_LENGTH, SESSION_TAG_KEYS } from '../../protocol/index.js';
import { MAX_RETRY_AFTER_MS, type StoredReport } from './report.js';

const LOGS_ATTACHMENT_NAME = 'codex-logs.log';
/** Categories that report something wrong: Sentry shows them as errors, the others as info. */
const ERROR_CATEGORIES: ReadonlySet<string> = new Set(['bug', 'bad_result', 'safety_check']);
/** Sentry rate-limit categories this envelope's items count against; an empty list in the header means all. */
const ENVELOPE_RATE_LIMIT_CATEGORIES: ReadonlySet<string> = new Set(['error', 'attachment', 'default']);

export interface SentryDsn {
  readonly publicKey: string;
  /** Host name and, when not the scheme's default, `:port`. */
  readonly host: string;
  readonly protocol: 'https:' | 'http:';
  /** '' or a path with a leading and no trailing slash, for Sentry served under a path. */
  readonly pathPrefix: string;
  readonly projectId: string;
  readonly envelopeUrl: string;
}

/**
 * Parses `https://<publicKey>[:<secret>]@<host>[:port]/[path/]<projectId>`. Returns null when the
 * DSN is malformed: not http(s), no key, a query or fragment, or a project id that is not digits.
 * The secret, long deprecated by Sentry, is ignored.
 */
export function parseSentryDsn(dsn: string): SentryDsn | null {
  let url: URL;
  try {
    url = new URL(dsn.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  // The key goes into a header: only the characters Sentry issues (hex) and word characters.
  if (!/^\w+$/.test(url.username) || url.search !== '' || url.hash !== '' || url.host === '') return null;
  const segments = url.pathname.split('/');
  const projectId = segments.pop() ?? '';
  if (!/^\d+$/.test(projectId)) return null;
  const pathPrefix = segments.join('/');
  return {
    publicKey: url.username,
    host: url.host,
    protocol: url.protocol,
    pathPrefix,
    projectId,
    envelopeUrl: `${url.protocol}//${url.host}${pathPrefix}/api/${projectId}/envelope/`,
  };
}

/**
 * The envelope: its header line, then per item a header line and the payload's bytes, each item
 * ended by a newline. `length` is the payload's byte length, so payloads may hold newlines and
 * any bytes.
 */
export function sentryEnvelope(report: StoredReport, dsn: string, sentAt: Date = new Date()): Buffer {
  const NEWLINE = Buffer.from('\n');
  const parts: Buffer[] = [Buffer.from(JSON.stringify({ event_id: report.id, sent_at: sentAt.toISOString(), dsn }), 'utf8'), NEWLINE];
  const addItem = (type: 'event' | 'attachment', payload: Buffer, file?: { filename: string; content_type: string }): void => {
    parts.push(Buffer.from(JSON.stringify({ type, length: payload.length, ...file }), 'utf8'), NEWLINE, payload, NEWLINE);
  };
  addItem('event', Buffer.from(JSON.stringify(sentryEvent(report)), 'utf8'));
  for (const attachment of report.attachments) {
    addItem('attachment', Buffer.from(attachment.data, 'base64'), { filename: attachment.name, content_type: attachment.contentType });
  }
  if (typeof report.logs === 'string') {
    addItem('attachment', Buffer.from(report.logs, 'utf8'), { filename: LOGS_ATTACHMENT_NAME, content_type: 'text/plain' });
  }
  return Buffer.concat(parts);
}

function sentryEvent(report: StoredReport): Record<string, unknown> {
  const createdMs = Date.parse(report.createdAt);
  const sessionTags: Record<string, string> = {};
  for (const key of SESSION_TAG_KEYS) {
    const value = report.session[key];
    // Sentry refuses tag values over 200 characters; session context may be longer.
    if (value !== undefined) sessionTags[key] = value.slice(0, MAX_FEEDBACK_TAG_VALUE_LENGTH);
  }
  return {
    event_id: report.id,
    // Seconds since the epoch; a createdAt that does not parse is passed on for Sentry to judge.
    timestamp: Number.isFinite(createdMs) ? createdMs / 1000 : report.createdAt,
    platform: 'other',
    level: ERROR_CATEGORIES.has(report.category) ? 'error' : 'info',
    logger: 'codexd.feedback',
    message: { formatted: `Codex feedback: ${report.category}${report.note ? `: ${report.note}` : ''}` },
    // The daemon's own tags come last: a user's tag must not relabel the category.
    tags: {
      ...report.tags,
      ...sessionTags,
      category: report.category,
      include_logs: report.includeLogs ? 'true' : 'false',
      client: report.client.name,
    },
    contexts: { session: { ...report.session }, client: { name: report.client.name, version: report.client.version } },
    extra: { note: report.note, sessionId: report.sessionId },
  };
}

/**
 * Sentry's `X-Sentry-Rate-Limits: <seconds>:<categories>:<scope>[:...], ...`: the longest wait
 * among the limits that cover what this envelope carries (an empty category list covers all),
 * since the envelope goes through only when every one of them has expired. Sentry's SDKs let this
 * header take precedence over `Retry-After`.
 */
export function sentryRateLimitMs(header: string | null): number | null {
  if (header === null) return null;
  let longest: number | null = null;
  for (const limit of header.split(',')) {
    const [seconds = '', categories = ''] = limit.trim().split(':');
    if (!/^\d+(\.\d+)?$/.test(seconds)) continue;
    const names = categories.split(';').filter((name) => name !== '');
    if (names.length > 0 && !names.some((name) => ENVELOPE_RATE_LIMIT_CATEGORIES.has(name))) continue;
    const ms = Math.min(Math.ceil(Number(seconds) * 1000), MAX_RETRY_AFTER_MS);
    longest = longest === null ? ms : Math.max(longest, ms);
  }
  return longest;
}

