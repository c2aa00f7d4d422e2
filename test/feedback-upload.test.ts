import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { StoredReport, UploadTarget } from '../daemon/feedback/report.js';
import { describeTarget, parseRetryAfter, parseSentryDsn, uploadReport } from '../daemon/feedback/upload.js';
import { type FeedbackServer, startFeedbackServer } from './support/feedback-server.js';

const OPTIONS = { timeoutMs: 5_000, userAgent: 'codexd/0.1.0-test' };
const SENTRY_KEY = 'abc123def4567890abc123def4567890';
const LOGS = 'first line: héllo wörld — 日本語 🚀\nsecond line\r\n\ttabbed\n';
/** Every byte value, twice, with newlines in the middle: a binary attachment must survive as is. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('\n\n{"type":"x"}\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i))]);

function report(overrides: Partial<StoredReport> = {}): StoredReport {
  return {
    id: '0123456789abcdef0123456789abcdef',
    createdAt: '2025-06-01T12:34:56.789Z',
    category: 'bug',
    note: 'the diff was applied twice — ünïcode',
    sessionId: 'sess-1',
    includeLogs: true,
    logs: LOGS,
    attachments: [{ name: 'screen.bin', contentType: 'application/octet-stream', data: BINARY.toString('base64') }],
    tags: { team: 'cli', 'os.kind': 'linux' },
    client: { name: 'codex-tui', version: '1.2.3' },
    session: { model: 'gpt-5-codex', originator: 'codex_cli_rs', 'app.version': '0.40.0', 'terminal.type': 'xterm' },
    ...overrides,
  };
}

function header(server: FeedbackServer, name: string, index = 0): string | undefined {
  const value = server.requests()[index]?.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

describe('feedback upload', () => {
  let server: FeedbackServer;
  beforeEach(async () => {
    server = await startFeedbackServer();
  });
  afterEach(async () => {
    await server.close();
  });

  describe('http target', () => {
    it('POSTs the report as JSON with its id as the idempotency key', async () => {
      const target: UploadTarget = { kind: 'http', endpoint: `${server.url}/v1/feedback`, headers: { 'x-api-key': 'k-very-secret' } };
      expect(await uploadReport(report(), target, OPTIONS)).toEqual({ kind: 'ok' });

      const [request] = server.requests();
      expect(request?.method).toBe('POST');
      expect(request?.path).toBe('/v1/feedback');
      expect(header(server, 'content-type')).toBe('application/json');
      expect(header(server, 'idempotency-key')).toBe('0123456789abcdef0123456789abcdef');
      expect(header(server, 'user-agent')).toBe('codexd/0.1.0-test');
      expect(header(server, 'x-api-key')).toBe('k-very-secret');

      const [body] = server.reports();
      expect(body).toEqual({
        id: '0123456789abcdef0123456789abcdef',
        createdAt: '2025-06-01T12:34:56.789Z',
        category: 'bug',
        note: 'the diff was applied twice — ünïcode',
        sessionId: 'sess-1',
        includeLogs: true,
        logs: LOGS,
        attachments: [{ name: 'screen.bin', contentType: 'application/octet-stream', data: BINARY.toString('base64') }],
        tags: { team: 'cli', 'os.kind': 'linux' },
        client: { name: 'codex-tui', version: '1.2.3' },
        session: { model: 'gpt-5-codex', originator: 'codex_cli_rs', 'app.version': '0.40.0', 'terminal.type': 'xterm' },
      });
      const attachments = body?.['attachments'];
      const data = Array.isArray(attachments) && typeof attachments[0] === 'object' && attachments[0] !== null && !Array.isArray(attachments[0]) ? attachments[0]['data'] : null;
      expect(Buffer.from(String(data), 'base64').equals(BINARY)).toBe(true);
    });

    it('sends a report without logs or attachments with nulls and empty lists', async () => {
      const target: UploadTarget = { kind: 'http', endpoint: server.url, headers: {} };
      const bare = report({ note: null, sessionId: null, includeLogs: false, logs: null, attachments: [], tags: {}, session: {}, category: 'good_result' });
      expect(await uploadReport(bare, target, OPTIONS)).toEqual({ kind: 'ok' });
      expect(server.reports()[0]).toMatchObject({ note: null, sessionId: null, includeLogs: false, logs: null, attachments: [], tags: {}, session: {} });
      expect(server.requests()[0]?.path).toBe('/');
    });

    it('sends URL userinfo as Basic credentials, never in the URL or a message', async () => {
      const endpoint = `${server.url.replace('http://', 'http://alice:p%40ss-secret@')}/fb?token=q-secret`;
      const target: UploadTarget = { kind: 'http', endpoint, headers: {} };
      expect(await uploadReport(report(), target, OPTIONS)).toEqual({ kind: 'ok' });
      expect(header(server, 'authorization')).toBe(`Basic ${Buffer.from('alice:p@ss-secret').toString('base64')}`);
      expect(server.requests()[0]?.path).toBe('/fb?token=q-secret');

      server.setStatus(401);
      const outcome = await uploadReport(report(), { kind: 'http', endpoint, headers: { authorization: 'Bearer tok-secret' } }, OPTIONS);
      expect(outcome).toEqual({ kind: 'permanent', message: 'HTTP 401 Unauthorized' });
      // A configured authorization header wins over the userinfo.
      expect(header(server, 'authorization', 1)).toBe('Bearer tok-secret');
    });

    it('refuses a target it cannot use, permanently, without quoting header values', async () => {
      const bad = await uploadReport(report(), { kind: 'http', endpoint: server.url, headers: { 'x-token': 'tok-secret\r\nx-evil: 1' } }, OPTIONS);
      expect(bad.kind).toBe('permanent');
      expect(JSON.stringify(bad)).toContain('x-token');
      expect(JSON.stringify(bad)).not.toContain('tok-secret');
      expect(await uploadReport(report(), { kind: 'http', endpoint: 'ftp://example.com/x', headers: {} }, OPTIONS)).toMatchObject({ kind: 'permanent' });
      expect(await uploadReport(report(), { kind: 'http', endpoint: 'not a url', headers: {} }, OPTIONS)).toMatchObject({ kind: 'permanent' });
      expect(server.requests()).toHaveLength(0);
    });
  });

  describe('sentry target', () => {
    it('POSTs an envelope with an event, the attachments and the logs', async () => {
      const dsn = `${server.url.replace('http://', `http://${SENTRY_KEY}@`)}/42`;
      expect(await uploadReport(report(), { kind: 'sentry', dsn }, OPTIONS)).toEqual({ kind: 'ok' });

      const [request] = server.requests();
      expect(request?.path).toBe('/api/42/envelope/');
      expect(header(server, 'content-type')).toBe('application/x-sentry-envelope');
      expect(header(server, 'x-sentry-auth')).toBe(`Sentry sentry_version=7, sentry_key=${SENTRY_KEY}, sentry_client=codexd/0.1.0-test`);

      const [envelope] = server.envelopes();
      expect(envelope?.header['event_id']).toBe('0123456789abcdef0123456789abcdef');
      expect(envelope?.header['dsn']).toBe(dsn);
      expect(Date.parse(String(envelope?.header['sent_at']))).toBeGreaterThan(Date.now() - 60_000);

      expect(envelope?.items.map((item) => item.type)).toEqual(['event', 'attachment', 'attachment']);
      for (const item of envelope?.items ?? []) expect(item.header['length']).toBe(item.payload.length);

      expect(envelope?.event).toMatchObject({
        event_id: '0123456789abcdef0123456789abcdef',
        timestamp: Date.parse('2025-06-01T12:34:56.789Z') / 1000,
        platform: 'other',
        level: 'error',
        logger: 'codexd.feedback',
        message: { formatted: 'Codex feedback: bug: the diff was applied twice — ünïcode' },
        tags: {
          category: 'bug',
          include_logs: 'true',
          client: 'codex-tui',
          team: 'cli',
          'os.kind': 'linux',
          model: 'gpt-5-codex',
          originator: 'codex_cli_rs',
          'app.version': '0.40.0',
        },
        contexts: { session: { model: 'gpt-5-codex', 'terminal.type': 'xterm' }, client: { name: 'codex-tui', version: '1.2.3' } },
        extra: { note: 'the diff was applied twice — ünïcode', sessionId: 'sess-1' },
      });

      const [binary, logs] = envelope?.attachments ?? [];
      expect(binary?.header).toMatchObject({ type: 'attachment', filename: 'screen.bin', content_type: 'application/octet-stream' });
      expect(binary?.payload.equals(BINARY)).toBe(true);
      expect(logs?.header).toMatchObject({ type: 'attachment', filename: 'codex-logs.log', content_type: 'text/plain' });
      expect(logs?.payload.toString('utf8')).toBe(LOGS);
      expect(logs?.payload.equals(Buffer.from(LOGS, 'utf8'))).toBe(true);
    });

    it('sends a note-less positive report as info, with no logs item, under the DSN path', async () => {
      const dsn = `${server.url.replace('http://', `http://${SENTRY_KEY}:legacy-secret@`)}/sentry/7`;
      const positive = report({ category: 'good_result', note: null, includeLogs: false, logs: null, attachments: [], tags: { category: 'spoofed' } });
      expect(await uploadReport(positive, { kind: 'sentry', dsn }, OPTIONS)).toEqual({ kind: 'ok' });
      expect(server.requests()[0]?.path).toBe('/sentry/api/7/envelope/');
      const [envelope] = server.envelopes();
      expect(envelope?.items.map((item) => item.type)).toEqual(['event']);
      expect(envelope?.event).toMatchObject({ level: 'info', message: { formatted: 'Codex feedback: good_result' }, tags: { category: 'good_result', include_logs: 'false' } });
      expect(header(server, 'x-sentry-auth')).not.toContain('legacy-secret');
    });

    it('takes the longest X-Sentry-Rate-Limits wait that covers the envelope over Retry-After', async () => {
      const dsn = `${server.url.replace('http://', `http://${SENTRY_KEY}@`)}/42`;
      server.setStatus(429, { 'retry-after': '5', 'x-sentry-rate-limits': '120:transaction:organization, 30:error;attachment:key:quota, 12::project' });
      expect(await uploadReport(report(), { kind: 'sentry', dsn }, OPTIONS)).toEqual({ kind: 'retryable', message: 'HTTP 429 Too Many Requests', retryAfterMs: 30_000 });
      server.setStatus(429, { 'retry-after': '5' });
      expect(await uploadReport(report(), { kind: 'sentry', dsn }, OPTIONS)).toEqual({ kind: 'retryable', message: 'HTTP 429 Too Many Requests', retryAfterMs: 5_000 });
    });

    it('keeps the key out of every message', async () => {
      const dsn = `${server.url.replace('http://', `http://${SENTRY_KEY}@`)}/42`;
      for (const status of [400, 401, 403, 413, 429, 500, 503]) {
        server.setStatus(status);
        const outcome = await uploadReport(report(), { kind: 'sentry', dsn }, OPTIONS);
        expect(outcome.kind).not.toBe('ok');
        expect(JSON.stringify(outcome)).not.toContain(SENTRY_KEY);
      }
      const invalid = await uploadReport(report(), { kind: 'sentry', dsn: `http://${SENTRY_KEY}@127.0.0.1/not-a-project` }, OPTIONS);
      expect(invalid).toEqual({ kind: 'permanent', message: 'invalid Sentry DSN' });
    });
  });

  describe('outcomes', () => {
    const http = (): UploadTarget => ({ kind: 'http', endpoint: `${server.url}/fb`, headers: { authorization: 'Bearer tok-secret' } });

    it('503 with Retry-After in seconds is retryable after that long', async () => {
      server.setStatus(503, { 'retry-after': '7' });
      expect(await uploadReport(report(), http(), OPTIONS)).toEqual({ kind: 'retryable', message: 'HTTP 503 Service Unavailable', retryAfterMs: 7_000 });
    });

    it('429 with an HTTP-date Retry-After is retryable until then', async () => {
      server.setStatus(429, { 'retry-after': new Date(Date.now() + 90_000).toUTCString() });
      const outcome = await uploadReport(report(), http(), OPTIONS);
      expect(outcome).toMatchObject({ kind: 'retryable', message: 'HTTP 429 Too Many Requests' });
      const retryAfterMs = outcome.kind === 'retryable' ? outcome.retryAfterMs : null;
      expect(retryAfterMs).toBeGreaterThan(80_000);
      expect(retryAfterMs).toBeLessThanOrEqual(90_000);
    });

    it.each([
      [408, 'HTTP 408 Request Timeout'],
      [429, 'HTTP 429 Too Many Requests'],
      [500, 'HTTP 500 Internal Server Error'],
      [502, 'HTTP 502 Bad Gateway'],
    ])('%i is retryable', async (status, message) => {
      server.setStatus(status);
      expect(await uploadReport(report(), http(), OPTIONS)).toEqual({ kind: 'retryable', message, retryAfterMs: null });
    });

    it.each([
      [400, 'HTTP 400 Bad Request'],
      [401, 'HTTP 401 Unauthorized'],
      [403, 'HTTP 403 Forbidden'],
      [404, 'HTTP 404 Not Found'],
      [413, 'HTTP 413 Payload Too Large'],
    ])('%i is permanent', async (status, message) => {
      server.setStatus(status, { 'retry-after': '3' });
      const outcome = await uploadReport(report(), http(), OPTIONS);
      expect(outcome).toEqual({ kind: 'permanent', message });
      expect(JSON.stringify(outcome)).not.toContain('tok-secret');
    });

    it('does not follow a redirect, which would carry the credentials elsewhere', async () => {
      server.setStatus(307, { location: 'http://127.0.0.1:9/elsewhere' });
      expect(await uploadReport(report(), http(), OPTIONS)).toEqual({
        kind: 'retryable',
        message: 'HTTP 307 Temporary Redirect (redirects are not followed)',
        retryAfterMs: null,
      });
      expect(server.requests()).toHaveLength(1);
    });

    it('a closed port is retryable: connection refused', async () => {
      const gone = await startFeedbackServer();
      await gone.close();
      const outcome = await uploadReport(report(), { kind: 'http', endpoint: `${gone.url}/fb`, headers: {} }, OPTIONS);
      expect(outcome).toEqual({ kind: 'retryable', message: 'connection refused (ECONNREFUSED)', retryAfterMs: null });
    });

    it('a server that never answers is retryable once the timeout passes', async () => {
      server.setHang(true);
      const started = performance.now();
      const outcome = await uploadReport(report(), http(), { ...OPTIONS, timeoutMs: 300 });
      const elapsed = performance.now() - started;
      expect(outcome).toEqual({ kind: 'retryable', message: 'timed out after 300 ms', retryAfterMs: null });
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(2_000);
      // The request did arrive in full: it was the answer that never came.
      expect(server.requests()).toHaveLength(1);
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-06-01T00:00:00Z');
  it('reads seconds and HTTP-dates, bounded, and nothing else', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('Sun, 01 Jun 2025 00:01:00 GMT', now)).toBe(60_000);
    expect(parseRetryAfter('Sat, 31 May 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('99999999', now)).toBe(24 * 60 * 60_000);
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter('-5', now)).toBeNull();
  });
});

describe('parseSentryDsn', () => {
  it('parses standard DSNs', () => {
    expect(parseSentryDsn('https://abc123@o123.ingest.sentry.io/4505')).toEqual({
      publicKey: 'abc123',
      host: 'o123.ingest.sentry.io',
      protocol: 'https:',
      pathPrefix: '',
      projectId: '4505',
      envelopeUrl: 'https://o123.ingest.sentry.io/api/4505/envelope/',
    });
    expect(parseSentryDsn('http://key:secret@sentry.internal:9000/base/path/17')).toEqual({
      publicKey: 'key',
      host: 'sentry.internal:9000',
      protocol: 'http:',
      pathPrefix: '/base/path',
      projectId: '17',
      envelopeUrl: 'http://sentry.internal:9000/base/path/api/17/envelope/',
    });
    // The scheme's default port is not repeated.
    expect(parseSentryDsn('https://k@host.example:443/1')?.envelopeUrl).toBe('https://host.example/api/1/envelope/');
  });

  it.each([
    '',
    'not a dsn',
    'https://o123.ingest.sentry.io/4505',
    'ftp://key@host/1',
    'https://key@host/',
    'https://key@host',
    'https://key@host/project',
    'https://key@host/1?x=y',
    'https://key@host/1#frag',
    'https://ke%20y@host/1',
  ])('refuses %j', (dsn) => {
    expect(parseSentryDsn(dsn)).toBeNull();
  });
});

describe('describeTarget', () => {
  it('names where reports go without credentials', () => {
    expect(describeTarget({ kind: 'http', endpoint: 'https://user:pa55@feedback.example.com:8443/v1/reports?token=t0k#x', headers: { authorization: 'Bearer t0k' } })).toBe(
      'https://feedback.example.com:8443/v1/reports',
    );
    expect(describeTarget({ kind: 'http', endpoint: 'https://feedback.example.com', headers: {} })).toBe('https://feedback.example.com');
    expect(describeTarget({ kind: 'sentry', dsn: `https://${SENTRY_KEY}@o1.ingest.sentry.io/4505` })).toBe('sentry https://o1.ingest.sentry.io/4505');
    expect(describeTarget({ kind: 'sentry', dsn: `https://${SENTRY_KEY}:sec@sentry.internal:9000/base/17` })).toBe('sentry https://sentry.internal:9000/base/17');
    expect(describeTarget({ kind: 'http', endpoint: 'nonsense', headers: {} })).toBe('http (invalid endpoint URL)');
    expect(describeTarget({ kind: 'sentry', dsn: `https://${SENTRY_KEY}@host/x` })).toBe('sentry (invalid DSN)');
  });
});
