/**
 * Session context over a real socket: session/start registers Codex's session attributes, and
 * every metric recorded with the session's id carries Codex's default session tags plus the
 * recording connection's client.name, sanitised rather than dropped.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createClient } from '../client/index.js';
import { ErrorCodes } from '../protocol/index.js';
import { type DaemonProcess, grpcConfig, ROOT, runCli, runProcess, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const CLIENT_URL = new URL('dist/client/codexd-client.js', `file://${ROOT}`).href;

const CONTEXT = {
  'conversation.id': 'c0ffee',
  model: 'gpt-5.1-codex',
  slug: 'gpt-5.1-codex',
  auth_mode: 'swic',
  originator: 'codex_cli_rs',
  session_source: 'exec',
  service_name: 'desktop app (beta)',
  'terminal.type': 'xterm-256color',
  'app.version': '0.169.0',
  'user.account_id': 'acct-123',
  'user.email': 'ada@example.com',
};

describe('sessions', () => {
  const harness = useHarness();
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess | undefined;
  let peer: RawPeer;

  beforeEach(async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    daemon = await harness.daemon();
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('Codex Desktop');
  });

  afterEach(async () => {
    peer.destroy();
  });

  it("tags a session's metrics with Codex's session tags and client.name, sanitised, the record's own tags winning", async () => {
    const started = await peer.request(1, 'session/start', { sessionId: 's-1', attributes: CONTEXT, logUserPrompt: false });
    expect(started.result).toEqual({
      sessionId: 's-1',
      tags: { auth_mode: 'swic', session_source: 'exec', originator: 'codex_cli_rs', service_name: 'desktop_app__beta_', model: 'gpt-5.1-codex', 'app.version': '0.169.0' },
    });
    const reply = await peer.request(2, 'metric/record', {
      records: [
        { name: 'codex.tool.call', kind: 'counter', value: 2, tags: { tool: 'shell', model: 'override' }, sessionId: 's-1' },
        { name: 'codex.tool.call', kind: 'counter', value: 5, tags: { tool: 'shell' } },
      ],
    });
    expect(reply.result).toEqual({ accepted: 2, rejected: [] });
    await daemon?.request('daemon/flush', {});
    const tagged = receiver.points().find((point) => point.name === 'codex.tool.call' && point.attributes.auth_mode === 'swic');
    expect(tagged?.attributes).toEqual({
      tool: 'shell',
      model: 'override',
      auth_mode: 'swic',
      session_source: 'exec',
      originator: 'codex_cli_rs',
      service_name: 'desktop_app__beta_',
      'app.version': '0.169.0',
      'client.name': 'Codex_Desktop',
    });
    expect(tagged?.value).toBe(2);
    // Log-only context never becomes a tag, and a record without a session gets no session tags.
    expect(JSON.stringify(receiver.points().map((point) => point.attributes))).not.toMatch(/acct-123|ada@example\.com|c0ffee/);
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(7);
  });

  it('cuts a long attribute to 256 characters instead of dropping the point', async () => {
    await peer.request(1, 'session/start', { sessionId: 's-long', attributes: { model: 'm'.repeat(600) } });
    await peer.request(2, 'metric/record', { records: [{ name: 'codex.turn.count', kind: 'counter', value: 1, sessionId: 's-long' }] });
    await daemon?.request('daemon/flush', {});
    expect(receiver.points().find((point) => point.name === 'codex.turn.count')?.attributes.model).toBe('m'.repeat(256));
  });

  it('rejects records of an unknown or ended session, counted for notifications too', async () => {
    await peer.request(1, 'session/start', { sessionId: 's-2', attributes: {} });
    expect((await peer.request(2, 'session/end', { sessionId: 's-2' })).result).toEqual({ sessionId: 's-2' });
    const reply = await peer.request(3, 'metric/record', {
      records: [
        { name: 'codex.a', kind: 'counter', value: 1, sessionId: 's-2' },
        { name: 'codex.a', kind: 'counter', value: 1 },
        { name: 'codex.a', kind: 'histogram', value: 1, sessionId: 'never' },
      ],
    });
    expect(reply.result).toEqual({
      accepted: 1,
      rejected: [
        { index: 0, code: 'unknown_session', message: 'records[0].sessionId: no session "s-2"; start it with session/start' },
        { index: 2, code: 'unknown_session', message: 'records[2].sessionId: no session "never"; start it with session/start' },
      ],
    });
    peer.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.a', kind: 'histogram', values: [1, 2, 3], sessionId: 'gone' }] } });
    const ended = await peer.request(4, 'session/end', { sessionId: 's-2' });
    expect(ended.error).toEqual({ code: ErrorCodes.UnknownSession, message: 'params.sessionId: no session "s-2" (never started, ended or expired)' });
    peer.send({ jsonrpc: '2.0', method: 'session/end', params: { sessionId: 'nope' } });
    const status = await daemon?.status();
    expect(status?.signals.metrics.rejected).toEqual({ unknown_session: 5 });
    expect(status?.protocolErrors).toEqual({ unknown_session: 2 });
    expect(status?.sessions).toEqual({ active: 0, started: 1, ended: 1, expired: 0, logBytes: 0, logPackedBytes: 0 });
  });

  it('refuses bad session/start params, naming the field', async () => {
    const cases: [unknown, string][] = [
      [{}, 'params.sessionId: must be a non-empty string of at most 256 characters'],
      [{ sessionId: 's', attributes: ['x'] }, 'params.attributes: must be an object of string values'],
      [{ sessionId: 's', attributes: { model: 7 } }, 'params.attributes.model: must be a string'],
      [{ sessionId: 's', attributes: { model: 'x'.repeat(1025) } }, 'params.attributes.model: exceeds 1024 characters'],
      [{ sessionId: 's', attributes: { 'bad key': 'x' } }, 'params.attributes."bad key": key must be 1 to 128 characters of A-Z a-z 0-9 . _ / -'],
      [{ sessionId: 's', logUserPrompt: 'yes' }, 'params.logUserPrompt: must be true or false'],
    ];
    let id = 10;
    for (const [params, message] of cases) expect((await peer.request(id++, 'session/start', params)).error).toEqual({ code: ErrorCodes.InvalidParams, message });
    expect((await daemon?.status())?.sessions.active).toBe(0);
  });

  it('session/summary and tools/metrics match a scripted session', async () => {
    await peer.request(1, 'session/start', { sessionId: 's-sum', attributes: { model: 'gpt-5' } });
    const records = [
      { name: 'codex.tool.call', kind: 'counter', value: 1, tags: { tool: 'shell', success: 'true' }, sessionId: 's-sum' },
      { name: 'codex.tool.call', kind: 'counter', value: 1, tags: { tool: 'shell', success: 'true' }, sessionId: 's-sum' },
      { name: 'codex.tool.call', kind: 'counter', value: 1, tags: { tool: 'apply_patch', status: 'patch_rejected' }, sessionId: 's-sum' },
      { name: 'codex.tool.call.duration_ms', kind: 'histogram', values: [120, 80], tags: { tool: 'shell' }, sessionId: 's-sum' },
      { name: 'codex.tool.call.duration_ms', kind: 'histogram', value: 15, tags: { tool: 'apply_patch' }, sessionId: 's-sum' },
      { name: 'codex.api_request', kind: 'counter', value: 3, tags: { status: '200', success: 'true' }, sessionId: 's-sum' },
      { name: 'codex.api_request.duration_ms', kind: 'histogram', values: [900, 1100, 1000], sessionId: 's-sum' },
      { name: 'codex.sse_event', kind: 'counter', value: 40, tags: { kind: 'delta' }, sessionId: 's-sum' },
      { name: 'codex.turn.ttft.duration_ms', kind: 'histogram', values: [420, 380], sessionId: 's-sum' },
      // Another session's and a session-less tool call count for the tool, not for this summary.
      { name: 'codex.tool.call', kind: 'counter', value: 1, tags: { tool: 'shell', success: 'false', status: 'timeout' } },
    ];
    expect((await peer.request(2, 'metric/record', { records })).result).toEqual({ accepted: 14, rejected: [] });
    expect((await peer.request(3, 'session/summary', { sessionId: 's-sum' })).result).toEqual({
      sessionId: 's-sum',
      toolCalls: { count: 3, totalDurationMs: 215 },
      apiCalls: { count: 3, totalDurationMs: 3000 },
      streamingEvents: { count: 40, totalDurationMs: 0 },
      websocketCalls: { count: 0, totalDurationMs: 0 },
      websocketEvents: { count: 0, totalDurationMs: 0 },
      lastTtftMs: 380,
      lastTtfmMs: null,
    });
    expect((await peer.request(4, 'tools/metrics', {})).result).toEqual({
      tools: {
        shell: { success: 2, failure: 1, lastError: 'timeout', lastLatencyMs: 80, totalLatencyMs: 200 },
        apply_patch: { success: 0, failure: 1, lastError: 'patch_rejected', lastLatencyMs: 15, totalLatencyMs: 15 },
      },
    });
    const table = await runCli(home, ['status', '--tools']);
    expect(table.stdout).toMatch(/^tool\s+success\s+failure/);
    expect(table.stdout).toMatch(/shell\s+2\s+1\s+80\.0\s+200\.0\s+timeout/);
    expect((await peer.request(5, 'session/summary', { sessionId: 'never' })).error).toMatchObject({ code: ErrorCodes.UnknownSession });
    expect((await peer.request(6, 'tools/reset', {})).result).toEqual({ reset: true });
    expect((await peer.request(7, 'tools/metrics', {})).result).toEqual({ tools: {} });
  });

  it('expires a session nobody ended once it has been idle for session_idle_timeout_ms', async () => {
    peer.destroy();
    await daemon?.stop();
    home.writeConfig(`${grpcConfig(receiver.endpoint)}session_idle_timeout_ms = 300\n`);
    daemon = await harness.daemon();
    peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    peer.send({ jsonrpc: '2.0', method: 'session/start', params: { sessionId: 'idle', attributes: { model: 'm' } } });
    await expect.poll(async () => (await daemon?.status())?.sessions, { timeout: 5000 }).toEqual({ active: 0, started: 1, ended: 0, expired: 1, logBytes: 0, logPackedBytes: 0 });
  });
});

describe('client sessions', () => {
  const harness = useHarness();
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
  });

  it("a session handle's records carry the session tags, also after the daemon restarts, and none after end()", async () => {
    daemon = await harness.daemon();
    const client = createClient({ clientInfo: { name: 'codex-tui', version: '1' }, socketPath: home.socketPath, spawn: false });
    const session = client.session({ sessionId: 'tui-1', attributes: { model: 'gpt-5', session_source: 'cli', originator: 'codex_tui' } });
    session.counter('codex.turn.count', 1, { phase: 'first' });
    session.histogram('codex.turn.e2e_duration_ms', 120);
    await client.flush();
    await daemon.stop();

    // A new daemon knows no sessions: the client announces its session again on reconnect.
    daemon = await harness.daemon();
    await expect.poll(() => client.stats().connected, { timeout: 10_000 }).toBe(true);
    session.counter('codex.turn.count', 1, { phase: 'second' });
    session.end();
    session.counter('codex.turn.count', 1, { phase: 'after-end' });
    await client.close();
    await daemon.request('daemon/flush', {});

    const expected = { model: 'gpt-5', session_source: 'cli', originator: 'codex_tui', 'client.name': 'codex-tui' };
    expect(receiver.sumOf('codex.turn.count', { phase: 'first', ...expected })).toBe(1);
    expect(receiver.sumOf('codex.turn.count', { phase: 'second', ...expected })).toBe(1);
    expect(receiver.sumOf('codex.turn.count', { phase: 'after-end' })).toBe(0);
    expect(receiver.histogramTotals('codex.turn.e2e_duration_ms', expected)).toEqual({ count: 1, sum: 120 });
    expect(client.stats().dropped).toEqual({ unknown_session: 1 });
    const status = await daemon.status();
    expect(status.sessions).toMatchObject({ active: 0, ended: 1 });
    expect(status.signals.metrics.rejected).toEqual({});
  });

  it('a host that exits before connecting hands its session over with its records', async () => {
    daemon = await harness.daemon();
    const host = `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: 'codex-exec', version: '1' } });
      const session = client.session({ sessionId: 'exec-1', attributes: { model: 'gpt-5', session_source: 'exec' } });
      for (let i = 0; i < 10; i++) session.counter('codex.tool.call', 1, { tool: 'shell' });
      process.exit(0);`;
    const run = await runProcess(['--input-type=module', '-e', host], home.env, 30_000);
    expect(run.code, run.stderr).toBe(0);
    await expect.poll(async () => (await daemon?.status())?.handoff.recordsIngested, { timeout: 10_000 }).toBe(1);
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell', model: 'gpt-5', session_source: 'exec', 'client.name': 'codex-exec' })).toBe(10);
  });
});
