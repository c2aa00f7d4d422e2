/**
 * Feedback reports end to end: a real daemon process, a real local HTTP receiver (plain JSON
 * and Sentry envelopes), real kills. A report is answered only once it is on disk, and it is
 * delivered once the receiver takes it, across restarts and outages.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ErrorCodes, type FeedbackEntry, type FeedbackList, MAX_FEEDBACK_LOGS_BYTES, MAX_FEEDBACK_TAGS } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, grpcConfig, ROOT, runCli, runNode, startDaemonProcess, type TestHome } from './support/daemon.js';
import { type FeedbackServer, startFeedbackServer } from './support/feedback-server.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const FEEDBACK_HOST = join(ROOT, 'test/fixtures/feedback-host.mjs');
const PROMPT = 'refactor the secret-sauce module';
/** Bytes of a small PNG header and some binary, to see attachments survive byte for byte. */
const BINARY = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x80, 0x7f]);

describe('feedback', () => {
  let home: TestHome | undefined;
  let receiver: OtlpReceiver | undefined;
  let server: FeedbackServer | undefined;
  let daemon: DaemonProcess | undefined;
  let peer: RawPeer | undefined;

  /** A home whose metrics go to an OTLP receiver and whose feedback goes where `feedback` says. */
  async function setUp(feedback: (server: FeedbackServer) => string): Promise<{ home: TestHome; receiver: OtlpReceiver; server: FeedbackServer }> {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    server = await startFeedbackServer();
    home.writeConfig(`${grpcConfig(receiver.endpoint, 100)}\n[feedback]\n${feedback(server)}\n`);
    return { home, receiver, server };
  }

  async function connect(): Promise<RawPeer> {
    peer = await openRawPeer((home as TestHome).socketPath);
    await peer.initialize('codex-tui');
    return peer;
  }

  function spoolFiles(): string[] {
    try {
      return readdirSync(join((home as TestHome).env.XDG_STATE_HOME as string, 'codexd', 'feedback'));
    } catch {
      return [];
    }
  }

  async function entries(): Promise<readonly FeedbackEntry[]> {
    return ((await daemon?.request<FeedbackList.Result>('feedback/list', {})) as FeedbackList.Result).reports;
  }

  afterEach(async () => {
    peer?.destroy();
    await daemon?.stop();
    await receiver?.close();
    await server?.close();
    home?.remove();
    home = receiver = server = daemon = peer = undefined;
  });

  it("uploads a report as JSON with the session's recent events as logs, intact, and counts the outcome", async () => {
    const { receiver, server } = await setUp((server) => `endpoint = "${server.url}/feedback"\nheaders = { authorization = "Bearer s3cret-token" }`);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    await peer.request(1, 'session/start', { sessionId: 's-1', attributes: { model: 'gpt-5.1-codex', 'user.email': 'ada@example.com' }, logUserPrompt: true });
    await peer.request(2, 'session/event', {
      events: [
        { sessionId: 's-1', name: 'codex.user_prompt', logOnly: { prompt: PROMPT } },
        { sessionId: 's-1', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', success: false }, attributes: { 'error.message': 'exit status 2 — ünïcode' } },
      ],
    });
    const reply = await peer.request(3, 'feedback/submit', {
      category: 'bug',
      note: 'the shell tool failed',
      sessionId: 's-1',
      includeLogs: true,
      attachments: [{ name: 'screen.png', contentType: 'image/png', data: BINARY.toString('base64') }],
      tags: { turn: '3', 'codex.surface': 'tui' },
    });
    const { feedbackId } = reply.result as { feedbackId: string; status: string };
    expect(reply.result).toEqual({ feedbackId: expect.stringMatching(/^[0-9a-f]{32}$/), status: 'queued' });
    await expect.poll(() => server.reports().length, { timeout: 10_000 }).toBe(1);
    const report = server.reports()[0] as Record<string, unknown>;
    expect(report).toMatchObject({ id: feedbackId, category: 'bug', note: 'the shell tool failed', sessionId: 's-1', includeLogs: true, tags: { turn: '3', 'codex.surface': 'tui' } });
    expect(report.client).toEqual({ name: 'codex-tui', version: '0.0.1' });
    expect(report.session).toEqual({ model: 'gpt-5.1-codex' });
    const logs = report.logs as string;
    expect(logs.split('\n').filter((line) => line !== '')).toHaveLength(2);
    expect(logs).toContain('codex.tool_result');
    expect(logs).toContain('exit status 2 — ünïcode');
    // The log lane's rules hold for feedback logs too: the config does not allow prompt text.
    expect(logs).toContain('"prompt":"[REDACTED]"');
    expect(logs).not.toContain(PROMPT);
    const [attachment] = report.attachments as { name: string; contentType: string; data: string }[];
    expect(attachment?.name).toBe('screen.png');
    expect(Buffer.from(attachment?.data ?? '', 'base64').equals(BINARY)).toBe(true);
    const request = server.requests()[0];
    expect(request?.headers['idempotency-key']).toBe(feedbackId);
    expect(request?.headers.authorization).toBe('Bearer s3cret-token');

    await expect.poll(async () => (await entries())[0]?.state, { timeout: 5000 }).toBe('uploaded');
    const status = await (daemon as DaemonProcess).status();
    expect(status.feedback).toMatchObject({ pending: 0, uploaded: 1, failed: 0, uploader: 'http', endpoint: `${server.url}/feedback` });
    // The header's secret is in neither status nor the status command's output.
    expect(JSON.stringify(status)).not.toContain('s3cret');
    expect((await runCli(home as TestHome, ['status'])).stdout).not.toContain('s3cret');
    await (daemon as DaemonProcess).request('daemon/flush', {});
    expect(receiver.sumOf('user.feedback.submitted', { category: 'bug', include_logs: 'true', success: 'true' })).toBe(1);
  });

  it("keeps an ended session's log ring packed, and a report after the end carries the same logs", async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"`);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    await peer.request(1, 'session/start', { sessionId: 's-3', attributes: { model: 'gpt-5.1-codex' } });
    const events = Array.from({ length: 200 }, (_, index) => ({ sessionId: 's-3', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', call_id: `c-${index}`, success: true }, logOnly: { output: `line ${index} — ünïcode ${'x'.repeat(100)}` } }));
    await peer.request(2, 'session/event', { events });
    await peer.request(3, 'feedback/submit', { category: 'bug', sessionId: 's-3', includeLogs: true });
    const open = (await (daemon as DaemonProcess).status()).sessions;
    expect(open.logBytes).toBeGreaterThan(200 * 100);
    expect(open.logPackedBytes).toBe(0);

    expect((await peer.request(4, 'session/end', { sessionId: 's-3' })).error).toBeUndefined();
    const ended = (await (daemon as DaemonProcess).status()).sessions;
    expect(ended.logBytes).toBe(open.logBytes);
    expect(ended.logPackedBytes).toBeGreaterThan(0);
    expect(ended.logPackedBytes).toBeLessThan(open.logBytes / 4);
    expect((await runCli(home as TestHome, ['status'])).stdout).toMatch(/log rings: .* of lines kept for feedback \(the packed ones take /);
    await peer.request(5, 'feedback/submit', { category: 'bug', sessionId: 's-3', includeLogs: true });
    await expect.poll(() => server.reports().length, { timeout: 10_000 }).toBe(2);
    const [before, after] = server.reports().map((report) => report.logs as string);
    expect(before?.split('\n')).toHaveLength(201);
    expect(after).toBe(before);
  });

  it('sends no session content when includeLogs is false', async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"`);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    await peer.request(1, 'session/start', { sessionId: 's-2', attributes: { model: 'gpt-5.1-codex', 'user.email': 'ada@example.com' } });
    await peer.request(2, 'session/event', { events: [{ sessionId: 's-2', name: 'codex.tool_result', traceSafe: { tool_name: 'apply_patch', success: true } }] });
    const refused = await peer.request(3, 'feedback/submit', { category: 'good_result', sessionId: 's-2', includeLogs: false, logs: 'my logs' });
    expect(refused.error).toMatchObject({ code: ErrorCodes.InvalidParams, message: 'params.logs: sent with includeLogs false; set includeLogs to send logs' });
    await peer.request(4, 'feedback/submit', { category: 'good_result', sessionId: 's-2', includeLogs: false });
    await expect.poll(() => server.reports().length, { timeout: 10_000 }).toBe(1);
    const body = server.requests()[0]?.body.toString('utf8') ?? '';
    expect(JSON.parse(body)).toMatchObject({ includeLogs: false, logs: null });
    expect(body).not.toMatch(/apply_patch|codex\.tool_result|ada@example\.com/);
  });

  it('uploads a Sentry envelope with the event and the log attachment, as Codex does', async () => {
    const { server } = await setUp((server) => `sentry_dsn = "${server.url.replace('http://', 'http://0123456789abcdef@')}/42"`);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const logs = 'line one\nline two — with ünïcode\n';
    const reply = await peer.request(1, 'feedback/submit', { category: 'bad_result', note: 'wrong answer', includeLogs: true, logs, attachments: [{ name: 'blob.bin', data: BINARY.toString('base64') }] });
    const { feedbackId } = reply.result as { feedbackId: string };
    await expect.poll(() => server.envelopes().length, { timeout: 10_000 }).toBe(1);
    const request = server.requests()[0];
    expect(request?.path).toBe('/api/42/envelope/');
    expect(String(request?.headers['x-sentry-auth'])).toContain('sentry_key=0123456789abcdef');
    const envelope = server.envelopes()[0];
    expect(envelope?.header.event_id).toBe(feedbackId);
    expect(envelope?.event).toMatchObject({ event_id: feedbackId, level: 'error', tags: { category: 'bad_result', include_logs: 'true', client: 'codex-tui' } });
    expect(JSON.stringify(envelope?.event)).toContain('wrong answer');
    const byName = new Map(envelope?.attachments.map((item) => [item.header.filename, item.payload]));
    expect(byName.get('codex-logs.log')?.toString('utf8')).toBe(logs);
    expect(byName.get('blob.bin')?.equals(BINARY)).toBe(true);
    const status = await (daemon as DaemonProcess).status();
    // The DSN's key is not shown.
    expect(status.feedback.endpoint).not.toContain('0123456789abcdef');
  });

  it('keeps an accepted report through kill -9 while the endpoint is down, and uploads it exactly once after restart', async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"\nretry_initial_ms = 100\nretry_max_ms = 400`);
    server.setStatus(503, { 'retry-after': '0' });
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const reply = await peer.request(1, 'feedback/submit', { category: 'bug', note: 'durable', includeLogs: true, logs: 'some logs\n' });
    const { feedbackId } = reply.result as { feedbackId: string };
    // Retried while the endpoint is down, and shown pending with its last error.
    await expect.poll(() => server.requests().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
    const pending = (await entries())[0];
    expect(pending).toMatchObject({ feedbackId, state: 'pending', lastError: expect.stringContaining('503') });
    expect(pending?.attempts).toBeGreaterThanOrEqual(1);
    expect((await (daemon as DaemonProcess).status()).feedback.pending).toBe(1);

    peer.destroy();
    (daemon as DaemonProcess).child.kill('SIGKILL');
    await (daemon as DaemonProcess).exited;
    server.setStatus(200);
    const before = server.requests().length;
    daemon = await startDaemonProcess(home as TestHome);
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('uploaded');
    // Give a duplicate the time it would need to show up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = server.requests().slice(before);
    expect(after).toHaveLength(1);
    expect(JSON.parse(after[0]?.body.toString('utf8') ?? '{}')).toMatchObject({ id: feedbackId, note: 'durable', logs: 'some logs\n' });
  });

  it('retries while the endpoint is down and delivers once it is back, without a restart', async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"\nretry_initial_ms = 50\nretry_max_ms = 200`);
    server.setStatus(500);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const { feedbackId } = (await peer.request(1, 'feedback/submit', { category: 'safety_check', includeLogs: false })).result as { feedbackId: string };
    await expect.poll(() => server.requests().length, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    expect((await (daemon as DaemonProcess).status()).feedback).toMatchObject({ pending: 1, uploaded: 0 });
    expect((await runCli(home as TestHome, ['feedback', 'show', feedbackId])).stdout).toMatch(/last error\s+HTTP 500/);
    server.setStatus(200);
    const before = server.requests().length;
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('uploaded');
    await new Promise((resolve) => setTimeout(resolve, 300));
    // One request may have been in flight when the endpoint came back; one success, no more.
    const after = server.requests().slice(before);
    expect(after.length).toBe(1);
    expect((await entries())[0]?.attempts).toBeGreaterThanOrEqual(4);
  });

  it('moves waiting reports to a new endpoint on codexd reload, at once, whatever the old one\'s backoff said', async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/down"\nretry_initial_ms = 60000\nretry_max_ms = 60000`);
    server.setStatus(503);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const { feedbackId } = (await peer.request(1, 'feedback/submit', { category: 'bug', note: 'moved', includeLogs: false })).result as { feedbackId: string };
    await expect.poll(async () => (await entries())[0]?.attempts, { timeout: 10_000 }).toBe(1);
    // The next attempt is a minute away; the new endpoint does not wait for it.
    const second = await startFeedbackServer();
    try {
      (home as TestHome).writeConfig(`${grpcConfig((receiver as OtlpReceiver).endpoint, 100)}\n[feedback]\nendpoint = "${second.url}/feedback"\n`);
      const reload = await runCli(home as TestHome, ['reload']);
      expect(reload.code, reload.stderr).toBe(0);
      expect(reload.stdout).toContain('applied feedback.target, feedback.retry_initial_ms, feedback.retry_max_ms');
      await expect.poll(async () => (await entries())[0]?.state, { timeout: 5_000 }).toBe('uploaded');
      expect(second.reports()).toMatchObject([{ id: feedbackId, note: 'moved' }]);
      expect(server.requests()).toHaveLength(1);
      expect((await (daemon as DaemonProcess).status()).feedback).toMatchObject({ uploaded: 1, endpoint: `${second.url}/feedback` });
    } finally {
      await second.close();
    }
  });

  it('does not let a hanging receiver hold up a stop, and delivers the report after the restart', async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"\nretry_initial_ms = 50`);
    server.setHang(true);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const { feedbackId } = (await peer.request(1, 'feedback/submit', { category: 'bug', includeLogs: false })).result as { feedbackId: string };
    await expect.poll(() => server.requests().length, { timeout: 10_000 }).toBe(1);
    peer.destroy();
    const started = Date.now();
    expect(await (daemon as DaemonProcess).stop()).toEqual({ code: 0, signal: null });
    // Well inside the 10 s an upload attempt may take, and inside the flush deadline.
    expect(Date.now() - started).toBeLessThan(3000);
    server.setHang(false);
    daemon = await startDaemonProcess(home as TestHome);
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('uploaded');
    expect(server.reports().map((report) => report.id)).toContain(feedbackId);
  });

  it('keeps a report the receiver refuses as failed, counts it, and retries it on command', async () => {
    const { receiver, server } = await setUp((server) => `endpoint = "${server.url}/feedback"\nretry_initial_ms = 100`);
    server.setStatus(400);
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const { feedbackId } = (await peer.request(1, 'feedback/submit', { category: 'other', includeLogs: false })).result as { feedbackId: string };
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('failed');
    expect((await entries())[0]).toMatchObject({ attempts: 1, lastError: expect.stringContaining('400') });
    const list = await runCli(home as TestHome, ['feedback', 'list']);
    expect(list.stdout).toMatch(new RegExp(`${feedbackId}\\s+failed\\s+other`));
    await (daemon as DaemonProcess).request('daemon/flush', {});
    expect(receiver.sumOf('user.feedback.submitted', { category: 'other', include_logs: 'false', success: 'false' })).toBe(1);

    server.setStatus(200);
    const retry = await runCli(home as TestHome, ['feedback', 'retry', feedbackId]);
    expect(retry.stdout).toBe(`feedback ${feedbackId} is pending again\n`);
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('uploaded');
    const show = await runCli(home as TestHome, ['feedback', 'show', feedbackId]);
    expect(show.stdout).toMatch(/state\s+uploaded/);
    expect((await runCli(home as TestHome, ['feedback', 'retry', '0'.repeat(32)])).code).toBe(2);
  });

  it('refuses bad reports with errors naming the field and the limit, storing nothing', async () => {
    await setUp(() => '');
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const cases: [object, string][] = [
      [{ category: 'rant', includeLogs: false }, 'params.category: must be one of bad_result, good_result, bug, safety_check, other'],
      [{ category: 'bug', includeLogs: true, logs: 'x'.repeat(MAX_FEEDBACK_LOGS_BYTES + 1) }, `params.logs: ${MAX_FEEDBACK_LOGS_BYTES + 1} bytes exceed the limit of ${MAX_FEEDBACK_LOGS_BYTES} bytes (4 MiB)`],
      [{ category: 'bug', includeLogs: false, attachments: [{ name: 'a.txt', data: 'not base64!' }] }, 'params.attachments[0].data: must be base64 (A-Z a-z 0-9 + /, padded with =)'],
      [{ category: 'bug', includeLogs: false, tags: Object.fromEntries(Array.from({ length: MAX_FEEDBACK_TAGS + 1 }, (_, index) => [`t${index}`, 'v'])) }, `params.tags: ${MAX_FEEDBACK_TAGS + 1} tags exceed the limit of ${MAX_FEEDBACK_TAGS}`],
      [{ category: 'bug' }, 'params.includeLogs: must be true or false'],
    ];
    let id = 1;
    for (const [params, message] of cases) {
      const reply = await peer.request(id++, 'feedback/submit', params);
      expect(reply.error).toEqual({ code: ErrorCodes.InvalidParams, message });
    }
    expect(spoolFiles()).toEqual([]);
    expect((await (daemon as DaemonProcess).status()).feedback).toMatchObject({ pending: 0, uploaded: 0, failed: 0, spoolBytes: 0 });
    // The daemon keeps serving.
    expect((await peer.request(id, 'feedback/list', {})).result).toEqual({ reports: [] });
  });

  it('refuses feedback when the config turns it off, and a config naming both an endpoint and a DSN', async () => {
    await setUp(() => 'enabled = false');
    daemon = await startDaemonProcess(home as TestHome);
    const peer = await connect();
    const reply = await peer.request(1, 'feedback/submit', { category: 'bug', includeLogs: false });
    expect(reply.error).toEqual({ code: ErrorCodes.FeedbackDisabled, message: 'feedback/submit: feedback is turned off ([feedback] enabled = false)' });
    expect(spoolFiles()).toEqual([]);
    (home as TestHome).writeConfig('[feedback]\nendpoint = "https://example.com/feedback"\nsentry_dsn = "https://key@example.com/1"\n');
    const run = await runCli(home as TestHome, ['run', '--socket', join((home as TestHome).dir, 'other.sock')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('feedback: expected either endpoint or sentry_dsn, not both');
  });

  it('keeps reports in the spool without an endpoint, and refuses a report that does not fit', async () => {
    await setUp(() => 'max_spool_bytes = 20000');
    daemon = await startDaemonProcess(home as TestHome);
    const logsFile = join((home as TestHome).dir, 'logs.txt');
    writeFileSync(logsFile, 'from the command line\n');
    const submitted = await runCli(home as TestHome, ['feedback', 'submit', '--category', 'bug', '--note', 'from the CLI', '--logs', logsFile, '--tag', 'source=cli']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const [, feedbackId] = /^feedback ([0-9a-f]{32}) queued\n$/.exec(submitted.stdout) ?? [];
    const [entry] = await entries();
    expect(entry).toMatchObject({ feedbackId, state: 'pending', nextAttemptAt: null, logsBytes: 22, note: 'from the CLI' });
    expect((await runCli(home as TestHome, ['feedback', 'list'])).stdout).toContain('no endpoint configured');
    expect((await runCli(home as TestHome, ['status'])).stdout).toContain('feedback: 1 pending, 0 uploaded, 0 failed');

    const peer = await connect();
    const filesBefore = spoolFiles();
    const full = await peer.request(1, 'feedback/submit', { category: 'bug', includeLogs: true, logs: 'y'.repeat(30_000) });
    expect((full.error as { code: number; message: string }).code).toBe(ErrorCodes.FeedbackSpoolFull);
    expect((full.error as { message: string }).message).toMatch(/feedback spool holds \d+ bytes and may hold 20000.*nothing was stored/);
    expect(spoolFiles()).toEqual(filesBefore);

    // Once an endpoint is configured, what waited goes out.
    peer.destroy();
    await (daemon as DaemonProcess).stop();
    (home as TestHome).writeConfig(`${grpcConfig((receiver as OtlpReceiver).endpoint, 100)}\n[feedback]\nendpoint = "${(server as FeedbackServer).url}/feedback"\n`);
    daemon = await startDaemonProcess(home as TestHome);
    await expect.poll(async () => (await entries())[0]?.state, { timeout: 10_000 }).toBe('uploaded');
    expect((server as FeedbackServer).reports()).toMatchObject([{ id: feedbackId, note: 'from the CLI', logs: 'from the command line\n', tags: { source: 'cli' } }]);
  });

  it("gives a host the report's id through the client, after the session's events", async () => {
    const { server } = await setUp((server) => `endpoint = "${server.url}/feedback"`);
    daemon = await startDaemonProcess(home as TestHome);
    const run = await runNode(home as TestHome, FEEDBACK_HOST, ['codex-cli', 's-9']);
    expect(run.code, run.stderr).toBe(0);
    const output = JSON.parse(run.stdout) as { submitted: { ok: boolean; feedbackId: string }; invalid: { ok: boolean; message: string } };
    expect(output.submitted).toEqual({ ok: true, feedbackId: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(output.invalid).toEqual({ ok: false, code: ErrorCodes.InvalidParams, message: 'params.category: must be one of bad_result, good_result, bug, safety_check, other' });
    await expect.poll(() => server.reports().length, { timeout: 10_000 }).toBe(1);
    // The event sent just before submitFeedback() is in the report's logs.
    expect(server.reports()[0]).toMatchObject({ id: output.submitted.feedbackId });
    expect(String(server.reports()[0]?.logs)).toContain('codex.turn_ttft');
  });
});
