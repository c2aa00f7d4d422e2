/**
 * One upload attempt of one feedback report; the retry loop and the spool live elsewhere.
 *
 * Two formats, chosen by the target:
 *
 *   http    POST <endpoint>, `content-type: application/json`, body {@link HttpReportBody}.
 *   sentry  POST <dsn host>/api/<project>/envelope/, `content-type: application/x-sentry-envelope`:
 *           envelope header, an `event` item, then one `attachment` item per attachment and
 *           one `codex-logs.log` item for the logs (https://develop.sentry.dev/sdk/data-model/envelopes/).
 *
 * The report id is both the HTTP `Idempotency-Key` and the Sentry `event_id`. The spool writes
 * "uploaded" only after the receiver answered; a crash between the two uploads the report
 * again on restart, and the receiver recognises the repeat by that id and drops it.
 *
 * The attempt resolves to a {@link SendOutcome} (delivery/sender.ts) and never rejects. Its messages name the
 * status or the network failure, never the endpoint's credentials, the DSN key or header values.
 */

import { permanent, type PermanentOutcome, retryable, SENT, type SendOutcome } from '../delivery/sender.js';
import { MAX_RETRY_AFTER_MS, type StoredReport, type UploadTarget } from './report.js';
import { parseRetryAfter as parseRetryAfterWithin } from '../retry-after.js';
import { parseSentryDsn, sentryEnvelope, sentryRateLimitMs } from './sentry.js';

export { MAX_RETRY_AFTER_MS } from './report.js';
export { parseSentryDsn, type SentryDsn, sentryEnvelope } from './sentry.js';

/** Upper bound on one attempt whatever the caller asks: a bad setting must not leave an upload hanging for days. */
export const MAX_UPLOAD_TIMEOUT_MS = 10 * 60_000;
/** A server's own reason phrase is cut to this many characters before it goes into a message. */
const MAX_REASON_CHARS = 64;

/**
 * The JSON an http target receives. Stable: fields are added, never renamed or removed. It is
 * built field by field so a field added to the spool's record does not leave the machine unnoticed.
 */
export interface HttpReportBody {
  /** 32 lowercase hex digits, also sent as `Idempotency-Key`. */
  readonly id: string;
  /** ISO-8601 time the daemon accepted the report. */
  readonly createdAt: string;
  readonly category: StoredReport['category'];
  readonly note: string | null;
  readonly sessionId: string | null;
  readonly includeLogs: boolean;
  /** null unless the user let logs go along. */
  readonly logs: string | null;
  /** `data` is base64. */
  readonly attachments: readonly { readonly name: string; readonly contentType: string; readonly data: string }[];
  readonly tags: Readonly<Record<string, string>>;
  readonly client: { readonly name: string; readonly version: string };
  /** The session's non-identifying context (model, originator, app.version, ...); empty when unknown. */
  readonly session: Readonly<Record<string, string>>;
}

export interface UploadOptions {
  /** Bound on the whole attempt: connecting, sending the body, and the response's headers. */
  readonly timeoutMs: number;
  readonly userAgent: string;
  /** Aborts the attempt (a stopping daemon); it then resolves as retryable. */
  readonly signal?: AbortSignal;
}

/**
 * Where reports go, for status and logs, without credentials: `scheme://host[:port][/path]` for
 * an http target (no userinfo, query or fragment), `sentry https://host[/path]/<projectId>` for
 * Sentry (no key). Never throws; a target that does not parse is described as such.
 */
export function describeTarget(target: UploadTarget): string {
  if (target.kind === 'sentry') {
    const dsn = parseSentryDsn(target.dsn);
    return dsn === null ? 'sentry (invalid DSN)' : `sentry ${dsn.protocol}//${dsn.host}${dsn.pathPrefix}/${dsn.projectId}`;
  }
  const url = parseHttpUrl(target.endpoint);
  if (url === null) return 'http (invalid endpoint URL)';
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * Makes one upload attempt of `report` to `target`. Resolves, never rejects: `ok` on a 2xx;
 * `retryable` on 408, 429, 5xx, 3xx (redirects are not followed: they would carry the
 * credentials' headers to another place), network errors and the timeout, with the receiver's
 * `Retry-After` (or Sentry's `X-Sentry-Rate-Limits`) as `retryAfterMs`; `permanent` on any
 * other 4xx and on a target that cannot be used (bad URL, DSN or header). Does not retry.
 */
export async function uploadReport(report: StoredReport, target: UploadTarget, options: UploadOptions): Promise<SendOutcome> {
  try {
    const request = target.kind === 'sentry' ? sentryRequest(report, target.dsn, options.userAgent) : httpRequest(report, target, options.userAgent);
    if ('kind' in request) return request;
    return await send(request, boundTimeout(options.timeoutMs), target.kind === 'sentry', options.signal);
  } catch (error: unknown) {
    // Not expected (send() maps its failures); kept so the contract holds. The error's own
    // message is not used: it could quote a URL or a header value.
    return retryable(`upload failed (${errorName(error)})`);
  }
}

interface PreparedRequest {
  readonly url: string;
  readonly headers: Headers;
  readonly body: Buffer;
}

type Prepared = PreparedRequest | PermanentOutcome;

function parseHttpUrl(endpoint: string): URL | null {
  try {
    const url = new URL(endpoint);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
}

/**
 * Builds the headers one by one so a bad one is named without its value: `Headers` would throw
 * a message quoting the value, which may be a token.
 */
function buildHeaders(entries: readonly (readonly [string, string])[]): Headers | PermanentOutcome {
  const headers = new Headers();
  for (const [name, value] of entries) {
    try {
      headers.set(name, value);
    } catch {
      return permanent(`invalid header ${JSON.stringify(name.slice(0, MAX_REASON_CHARS))}`);
    }
  }
  return headers;
}

function httpRequest(report: StoredReport, target: Extract<UploadTarget, { kind: 'http' }>, userAgent: string): Prepared {
  const url = parseHttpUrl(target.endpoint);
  if (url === null) return permanent('invalid endpoint URL (expected http:// or https://)');
  const entries: [string, string][] = Object.entries(target.headers);
  // fetch refuses a URL with userinfo; send it the way curl does, as Basic credentials, unless
  // the target names its own authorization.
  if (url.username !== '' || url.password !== '') {
    const hasAuthorization = entries.some(([name]) => name.toLowerCase() === 'authorization');
    if (!hasAuthorization) {
      const credentials = `${safeDecode(url.username)}:${safeDecode(url.password)}`;
      entries.push(['authorization', `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`]);
    }
    url.username = '';
    url.password = '';
  }
  // Ours come last so a configured header cannot change what the body is or which report it is.
  entries.push(['content-type', 'application/json'], ['idempotency-key', report.id], ['user-agent', userAgent]);
  const headers = buildHeaders(entries);
  if (!(headers instanceof Headers)) return headers;
  return { url: url.href, headers, body: Buffer.from(JSON.stringify(httpBody(report)), 'utf8') };
}

function safeDecode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

function httpBody(report: StoredReport): HttpReportBody {
  return {
    id: report.id,
    createdAt: report.createdAt,
    category: report.category,
    note: report.note,
    sessionId: report.sessionId,
    includeLogs: report.includeLogs,
    logs: report.logs,
    attachments: report.attachments.map(({ name, contentType, data }) => ({ name, contentType, data })),
    tags: report.tags,
    client: { name: report.client.name, version: report.client.version },
    session: report.session,
  };
}

function sentryRequest(report: StoredReport, dsnText: string, userAgent: string): Prepared {
  const dsn = parseSentryDsn(dsnText);
  if (dsn === null) return permanent('invalid Sentry DSN');
  const headers = buildHeaders([
    ['content-type', 'application/x-sentry-envelope'],
    ['x-sentry-auth', `Sentry sentry_version=7, sentry_key=${dsn.publicKey}, sentry_client=${userAgent}`],
    ['user-agent', userAgent],
  ]);
  if (!(headers instanceof Headers)) return headers;
  return { url: dsn.envelopeUrl, headers, body: sentryEnvelope(report, dsnText.trim()) };
}

function boundTimeout(timeoutMs: number): number {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return MAX_UPLOAD_TIMEOUT_MS;
  return Math.min(Math.ceil(timeoutMs), MAX_UPLOAD_TIMEOUT_MS);
}

async function send(request: PreparedRequest, timeoutMs: number, sentry: boolean, stop: AbortSignal | undefined): Promise<SendOutcome> {
  let response: Response;
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: stop === undefined ? timeout : AbortSignal.any([timeout, stop]),
    });
  } catch (error: unknown) {
    if (stop?.aborted === true && !timeout.aborted) return retryable('stopped: the daemon is shutting down');
    return retryable(networkFailure(error, timeoutMs));
  }
  // The body is not needed; cancelling it frees the connection instead of waiting for it
  // (and for a receiver that never finishes it).
  response.body?.cancel().catch(() => undefined);
  const status = response.status;
  if (status >= 200 && status <= 299) return SENT;
  const message = `HTTP ${status}${reasonPhrase(status, response.statusText)}`;
  if (status >= 400 && status <= 499 && status !== 408 && status !== 429) return permanent(message);
  const rateLimit = sentry ? sentryRateLimitMs(response.headers.get('x-sentry-rate-limits')) : null;
  return retryable(status >= 300 && status <= 399 ? `${message} (redirects are not followed)` : message, rateLimit ?? parseRetryAfter(response.headers.get('retry-after')));
}

/** Node's standard phrase for the status; else the server's own, cut short and stripped of control characters. */
function reasonPhrase(status: number, statusText: string): string {
  // node:http's reason phrases, read at first use: an ESM import of node:http loads fetch, TLS and
  // HTTP/2 with it (~20 MiB), which a daemon that never uploads does not need.
  const reason = process.getBuiltinModule('node:http').STATUS_CODES[status] ?? statusText.replace(/[\x00-\x1f\x7f]/g, '').slice(0, MAX_REASON_CHARS).trim();
  return reason === '' ? '' : ` ${reason}`;
}

/** A feedback receiver's `Retry-After`, at most {@link MAX_RETRY_AFTER_MS} (a day). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  return parseRetryAfterWithin(value, MAX_RETRY_AFTER_MS, now);
}

/** What Node's error codes mean, in a few words; the code itself is added after. */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'connection closed by the server',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no response headers in time',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate does not match the host',
};

/**
 * A short description of why fetch failed, from error names and codes only: undici's messages
 * can quote the URL.
 */
function networkFailure(error: unknown, timeoutMs: number): string {
  if (errorName(error) === 'TimeoutError') return `timed out after ${timeoutMs} ms`;
  const code = errorCode(error);
  if (code === null) return 'network error';
  const reason = NETWORK_REASONS[code];
  return reason === undefined ? `network error (${code})` : `${reason} (${code})`;
}

/** The error's `name` (`TimeoutError`, `TypeError`): DOMException is read the same way as Error. */
function errorName(error: unknown): string {
  if (typeof error !== 'object' || error === null) return typeof error;
  const name: unknown = Reflect.get(error, 'name');
  return typeof name === 'string' ? name.slice(0, MAX_REASON_CHARS) : 'object';
}

/**
 * The first error code found: fetch's TypeError carries it in `cause`; with happy eyeballs the
 * cause is an AggregateError whose `errors` hold one failure per address tried.
 */
function errorCode(error: unknown, depth = 0): string | null {
  if (depth > 4 || typeof error !== 'object' || error === null) return null;
  const code: unknown = Reflect.get(error, 'code');
  if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  const fromCause = errorCode(Reflect.get(error, 'cause'), depth + 1);
  if (fromCause !== null) return fromCause;
  const errors: unknown = Reflect.get(error, 'errors');
  if (Array.isArray(errors)) {
    for (const inner of errors as unknown[]) {
      const innerCode = errorCode(inner, depth + 1);
      if (innerCode !== null) return innerCode;
    }
  }
  return null;
}
