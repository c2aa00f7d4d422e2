/**
 * Session events over a real socket into a real OTLP/gRPC receiver: the log lane gets every
 * field (redacted where the config does not allow it), the trace lane only common and
 * trace-safe ones, under the caller's trace context; the metrics the catalog derives from
 * events arrive with the session's tags.
 */
import { describe, expect, it } from 'vitest';

import { MAX_LANE_CHARS } from '../daemon/event-lanes.js';
import { type DaemonStatus, ErrorCodes, MAX_BATCH_EVENTS, MAX_EVENT_ATTRIBUTE_LENGTH, MAX_EVENT_ATTRIBUTES } from '../protocol/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type DaemonProcess, grpcConfig, ROOT, runCli, runNode } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';
import type { RawPeer } from './support/raw-client.js';

const CONTEXT = {
  'conversation.id': 'c0ffee',
  model: 'gpt-5.1-codex',
  auth_mode: 'swic',
  originator: 'codex_cli_rs',
  session_source: 'exec',
  'app.version': '0.169.0',
  'user.account_id': 'acct-123',
  'user.email': 'ada@example.com',
};

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN}-01`;

const SESSION_HOST = join(ROOT, 'test/fixtures/session-host.mjs');

const PROMPT = 'please refactor the secret-sauce module';
const ARGUMENTS = '{"cmd":"cat ~/.ssh/id_ed25519"}';
const OUTPUT = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 private-output';

describe('session events', () => {
  const harness = useHarness();

  async function start(extra: { otel?: string; codexd?: string } = {}, intervalMs = 100): Promise<{ receiver: OtlpReceiver; daemon: DaemonProcess; peer: RawPeer }> {
    const { receiver, daemon } = await harness.start({ ...extra, intervalMs });
    return { receiver, daemon, peer: await harness.peer('Codex Desktop') };
  }

  it('keeps log-only fields off the trace lane, redacts content, and puts spans under the traceparent', async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-1', attributes: CONTEXT, logUserPrompt: true });
    const reply = await peer.request(2, 'session/event', {
      events: [
        { sessionId: 's-1', name: 'codex.user_prompt', traceSafe: { prompt_length: PROMPT.length }, logOnly: { prompt: PROMPT } },
        // A careless client puts content among the common and trace-safe fields: the catalog wins.
        {
          sessionId: 's-1',
          name: 'codex.tool_result',
          attributes: { arguments: ARGUMENTS, call_id: 'call-1' },
          traceSafe: { tool_name: 'shell', success: true, output: OUTPUT },
          durationMs: 42,
          traceparent: TRACEPARENT,
          tracestate: 'congo=t61rcWkgMzE',
        },
        // Unknown events are taken; a field the daemon adds cannot be overridden by the client.
        { sessionId: 's-1', name: 'codex.custom_thing', attributes: { 'user.email': 'leak@example.com', note: 'kept', 'session.id': 'spoof', model: 'gpt-5.2' } },
      ],
    });
    expect(reply.result).toEqual({ accepted: 3, rejected: [] });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 3 && receiver.spans().length === 3, 10_000, 'three logs and three spans');

    const spans = receiver.spans();
    const spanText = JSON.stringify(spans.map((span) => span.attributes), (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
    for (const secret of [PROMPT, ARGUMENTS, OUTPUT, 'acct-123', 'ada@example.com', 'leak@example.com', '[REDACTED]']) expect(spanText).not.toContain(secret);
    for (const span of spans) {
      expect(span.attributes).not.toHaveProperty('prompt');
      expect(span.attributes).not.toHaveProperty('user.email');
      expect(span.attributes).not.toHaveProperty('user.account_id');
    }

    const toolSpan = spans.find((span) => span.name === 'codex.tool_result');
    expect(toolSpan?.traceId).toBe(TRACE_ID);
    expect(toolSpan?.parentSpanId).toBe(PARENT_SPAN);
    expect(toolSpan?.traceState).toBe('congo=t61rcWkgMzE');
    expect(Number((toolSpan?.endTimeUnixNano ?? 0n) - (toolSpan?.startTimeUnixNano ?? 0n)) / 1e6).toBeCloseTo(42, 3);
    expect(toolSpan?.attributes).toMatchObject({ tool_name: 'shell', success: true, call_id: 'call-1', model: 'gpt-5.1-codex', 'client.name': 'Codex Desktop', 'session.id': 's-1', 'conversation.id': 'c0ffee' });
    expect(spans.find((span) => span.name === 'codex.user_prompt')?.attributes.prompt_length).toBe(PROMPT.length);

    const logs = receiver.logRecords();
    const promptLog = logs.find((log) => log.eventName === 'codex.user_prompt');
    // The session allows its prompt, the config (log_user_prompt unset) does not.
    expect(promptLog?.attributes.prompt).toBe('[REDACTED]');
    expect(promptLog?.attributes).toMatchObject({ 'user.email': 'ada@example.com', 'user.account_id': 'acct-123', prompt_length: PROMPT.length, 'event.name': 'codex.user_prompt' });
    const toolLog = logs.find((log) => log.eventName === 'codex.tool_result');
    expect(toolLog?.attributes).toMatchObject({ arguments: '[REDACTED]', output: '[REDACTED]', tool_name: 'shell', 'user.email': 'ada@example.com' });
    // The log record is in its span's context: the two correlate.
    expect(toolLog?.traceId).toBe(TRACE_ID);
    expect(toolLog?.spanId).toBe(toolSpan?.spanId);
    const customLog = logs.find((log) => log.eventName === 'codex.custom_thing');
    const customSpan = spans.find((span) => span.name === 'codex.custom_thing');
    expect(customLog?.attributes).toMatchObject({ 'user.email': 'leak@example.com', note: 'kept', 'session.id': 's-1', model: 'gpt-5.2' });
    expect(customSpan?.attributes).toMatchObject({ 'session.id': 's-1', model: 'gpt-5.2' });
    // Without a traceparent the span starts a trace, and its log record is in it.
    expect(customSpan?.parentSpanId).toBe('');
    expect([customLog?.traceId, customLog?.spanId]).toEqual([customSpan?.traceId, customSpan?.spanId]);

    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.events.laneOverrides).toEqual({ arguments: 1, output: 1, 'user.email': 1 });
    expect(status.events.redacted).toEqual({ prompt: 1, arguments: 1, output: 1 });
    expect(status.signals.logs).toMatchObject({ received: 3, accepted: 3, exported: 3, buffered: 0, rejectedTotal: 0 });
    expect(status.signals.traces).toMatchObject({ received: 3, accepted: 3, exported: 3, buffered: 0 });
    expect(status.exporters.map((exporter) => [exporter.signal, exporter.kind, exporter.state])).toEqual([
      ['metrics', 'otlp-grpc', expect.any(String)],
      ['logs', 'otlp-grpc', 'ok'],
      ['traces', 'otlp-grpc', 'ok'],
    ]);
  });

  it('logs prompt text only when both the session and the config allow it, and tool content only when the config does', async () => {
    const { receiver, daemon, peer } = await start({ otel: 'log_user_prompt = true', codexd: 'log_tool_content = true' });
    await peer.request(1, 'session/start', { sessionId: 'open', attributes: CONTEXT, logUserPrompt: true });
    await peer.request(2, 'session/start', { sessionId: 'closed', attributes: CONTEXT });
    const event = (sessionId: string): object => ({ sessionId, name: 'codex.user_prompt', logOnly: { prompt: `${PROMPT} (${sessionId})` } });
    await peer.request(3, 'session/event', {
      events: [event('open'), event('closed'), { sessionId: 'closed', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', success: true }, logOnly: { arguments: ARGUMENTS, output: OUTPUT } }],
    });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 3, 10_000, 'three logs');
    const prompts = Object.fromEntries(receiver.logRecords().filter((log) => log.eventName === 'codex.user_prompt').map((log) => [log.attributes['session.id'], log.attributes.prompt]));
    expect(prompts).toEqual({ open: `${PROMPT} (open)`, closed: '[REDACTED]' });
    expect(receiver.logRecords().find((log) => log.eventName === 'codex.tool_result')?.attributes).toMatchObject({ arguments: ARGUMENTS, output: OUTPUT });
    // Allowed content still never reaches a span.
    expect(JSON.stringify(receiver.spans().map((span) => span.attributes))).not.toMatch(/secret-sauce|ssh-ed25519|id_ed25519/);
  });

  it('derives tool, API, start-up and TTFT metrics from events, with session tags and client.name, and feeds the summaries', async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-2', attributes: CONTEXT });
    const tool = (success: boolean, durationMs: number, error?: string): object => ({
      sessionId: 's-2',
      name: 'codex.tool_result',
      traceSafe: { tool_name: 'shell', call_id: 'c', success, duration_ms: durationMs },
      ...(error === undefined ? {} : { attributes: { 'error.message': error } }),
    });
    const reply = await peer.request(2, 'session/event', {
      events: [
        tool(true, 10),
        tool(true, 30),
        tool(false, 5, 'exit status 2'),
        { sessionId: 's-2', name: 'codex.api_request', traceSafe: { 'http.response.status_code': 200, attempt: 1 }, durationMs: 800 },
        { sessionId: 's-2', name: 'codex.api_request', traceSafe: { 'http.response.status_code': 500, attempt: 2 }, attributes: { 'error.message': 'server error' }, durationMs: 200 },
        { sessionId: 's-2', name: 'codex.startup_phase', traceSafe: { phase: 'startup_prewarm_total', status: 'ok', duration_ms: 120 } },
        { sessionId: 's-2', name: 'codex.turn_ttft', durationMs: 640 },
      ],
    });
    expect(reply.result).toEqual({ accepted: 7, rejected: [] });
    await daemon.request('daemon/flush', {});
    const sessionTags = { auth_mode: 'swic', session_source: 'exec', originator: 'codex_cli_rs', model: 'gpt-5.1-codex', 'app.version': '0.169.0', 'client.name': 'Codex_Desktop' };
    expect(receiver.sumOf('codex.tool.call', { ...sessionTags, tool: 'shell', success: 'true' })).toBe(2);
    expect(receiver.sumOf('codex.tool.call', { ...sessionTags, tool: 'shell', success: 'false' })).toBe(1);
    expect(receiver.histogramTotals('codex.tool.call.duration_ms', { tool: 'shell', success: 'true' })).toEqual({ count: 2, sum: 40 });
    expect(receiver.sumOf('codex.api_request', { ...sessionTags, status: '200', success: 'true' })).toBe(1);
    expect(receiver.sumOf('codex.api_request', { status: '500', success: 'false' })).toBe(1);
    expect(receiver.histogramTotals('codex.api_request.duration_ms', {})).toEqual({ count: 2, sum: 1000 });
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', { ...sessionTags, phase: 'startup_prewarm_total', status: 'ok' })).toEqual({ count: 1, sum: 120 });
    expect(receiver.histogramTotals('codex.turn.ttft.duration_ms', sessionTags)).toEqual({ count: 1, sum: 640 });

    const summary = (await peer.request(3, 'session/summary', { sessionId: 's-2' })).result;
    expect(summary).toMatchObject({ toolCalls: { count: 3, totalDurationMs: 45 }, apiCalls: { count: 2, totalDurationMs: 1000 }, lastTtftMs: 640 });
    const tools = (await peer.request(4, 'tools/metrics', {})).result as { tools: Record<string, unknown> };
    expect(tools.tools.shell).toEqual({ success: 2, failure: 1, lastError: 'exit status 2', lastLatencyMs: 5, totalLatencyMs: 45 });
    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.events.derivedMeasurements).toBe(12);
    expect(status.events.derivationsMissed).toEqual({});
  });

  it("derives metrics from Codex 0.169's own event fields, stamps every record with event.timestamp, and counts the events it could derive nothing from", async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-169', attributes: { ...CONTEXT, service_name: 'codex_vscode' } });
    const event = (name: string, attributes: Record<string, string | number | boolean>, extra: object = {}): object => ({ sessionId: 's-169', name, attributes, ...extra });
    const TTFT_TIME = Date.UTC(2026, 10, 23, 14, 8, 3, 906);
    const HOST_STAMP = '2026-11-23T14:08:01.250Z';
    // As a replay of `codex exec` sends them: Codex's own keys, its durations as strings.
    const events = [
      event('codex.conversation_starts', { provider_name: 'openai', reasoning_effort: 'medium', approval_policy: 'on-request', sandbox_policy: 'workspace-write', mcp_servers: 'github, linear', mcp_server_count: 2, active_profile: 'work', active_profile_present: true, 'auth.env_openai_api_key_present': true }),
      event('codex.startup_phase', { 'startup.phase': 'thread_start_create_thread', 'startup.status': 'ok', duration_ms: '17' }),
      event('codex.startup_phase', { 'startup.phase': 'startup_prewarm_total', duration_ms: '40' }),
      event('codex.api_request', { attempt: 1, duration_ms: '812', 'http.response.status_code': 200, endpoint: '/responses', 'auth.header_attached': true, 'auth.retry_after_unauthorized': false, 'auth.env_openai_api_key_present': true }),
      event('codex.sse_event', { 'event.kind': 'response.created', duration_ms: '120', 'event.timestamp': HOST_STAMP }),
      event('codex.sse_event', { 'event.kind': 'response.output_text.delta', duration_ms: '30' }),
      event('codex.sse_event', { 'event.kind': 'response.completed', duration_ms: '5' }),
      // The summary Codex sends after the stream, with the token counts: no duration, no metric.
      event('codex.sse_event', { 'event.kind': 'response.completed', input_token_count: '18211', output_token_count: '912', cached_token_count: 16384, reasoning_token_count: 384, tool_token_count: '0', cache_write_token_count: 0 }),
      event('codex.sse_event', { duration_ms: '7', 'error.message': 'idle timeout waiting for SSE' }),
      event('codex.turn_ttft', { duration_ms: '640' }, { time: TTFT_TIME }),
      // The keys codexd's client helper sends are still read.
      { sessionId: 's-169', name: 'codex.startup_phase', traceSafe: { phase: 'legacy_phase', status: 'error', duration_ms: 5 } },
      // Nothing to derive from these: each is counted by what it lacked.
      event('codex.startup_phase', { 'startup.status': 'ok', duration_ms: '3' }),
      event('codex.tool_result', { call_id: 'call-9', success: true, duration_ms: '4' }),
      event('codex.turn_ttft', {}),
      event('codex.sse_event', { 'event.kind': 'response.output_text.delta' }),
    ];
    expect((await peer.request(2, 'session/event', { events })).result).toEqual({ accepted: events.length, rejected: [] });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === events.length && receiver.spans().length === events.length, 10_000, 'a log and a span per event');

    // Codex's session tags, service_name included, and client.name.
    const sessionTags = { auth_mode: 'swic', session_source: 'exec', originator: 'codex_cli_rs', service_name: 'codex_vscode', model: 'gpt-5.1-codex', 'app.version': '0.169.0', 'client.name': 'Codex_Desktop' };
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', { ...sessionTags, phase: 'thread_start_create_thread', status: 'ok' })).toEqual({ count: 1, sum: 17 });
    // Without a status, as Codex records it: no status tag.
    const prewarm = receiver.points().filter((point) => point.name === 'codex.startup.phase.duration_ms' && point.attributes.phase === 'startup_prewarm_total');
    expect(prewarm.length).toBeGreaterThan(0);
    for (const point of prewarm) expect(point.attributes).not.toHaveProperty('status');
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', { ...sessionTags, phase: 'startup_prewarm_total' })).toEqual({ count: 1, sum: 40 });
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', { ...sessionTags, phase: 'legacy_phase', status: 'error' })).toEqual({ count: 1, sum: 5 });
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', {})).toEqual({ count: 3, sum: 62 });
    expect(receiver.sumOf('codex.api_request', { ...sessionTags, status: '200', success: 'true' })).toBe(1);
    expect(receiver.histogramTotals('codex.api_request.duration_ms', { ...sessionTags, status: '200', success: 'true' })).toEqual({ count: 1, sum: 812 });
    for (const kind of ['response.created', 'response.output_text.delta', 'response.completed']) expect(receiver.sumOf('codex.sse_event', { ...sessionTags, kind, success: 'true' }), kind).toBe(1);
    expect(receiver.sumOf('codex.sse_event', { ...sessionTags, kind: 'unknown', success: 'false' })).toBe(1);
    expect(receiver.sumOf('codex.sse_event', {})).toBe(4);
    expect(receiver.histogramTotals('codex.sse_event.duration_ms', { ...sessionTags, kind: 'response.created', success: 'true' })).toEqual({ count: 1, sum: 120 });
    expect(receiver.histogramTotals('codex.sse_event.duration_ms', {})).toEqual({ count: 4, sum: 162 });
    expect(receiver.histogramTotals('codex.turn.ttft.duration_ms', sessionTags)).toEqual({ count: 1, sum: 640 });
    expect(receiver.sumOf('codex.tool.call', {})).toBe(0);
    const summary = (await peer.request(3, 'session/summary', { sessionId: 's-169' })).result;
    expect(summary).toMatchObject({ apiCalls: { count: 1, totalDurationMs: 812 }, streamingEvents: { count: 4, totalDurationMs: 162 }, lastTtftMs: 640 });

    // Every record, on both lanes, says when its event happened.
    const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
    const logs = receiver.logRecords();
    const spans = receiver.spans();
    for (const record of [...logs, ...spans]) expect(record.attributes['event.timestamp']).toMatch(ISO_MS);
    for (const log of logs) {
      // The event's time, or the time the daemon took it in, which is also the record's time.
      if (log.attributes['event.timestamp'] !== HOST_STAMP) expect(Math.abs(Date.parse(log.attributes['event.timestamp'] as string) - Number(log.timeUnixNano / 1_000_000n))).toBeLessThanOrEqual(1);
    }
    const timed = (records: readonly { attributes: Record<string, unknown> }[]): unknown[] => records.filter((record) => record.attributes.duration_ms === '640').map((record) => record.attributes['event.timestamp']);
    expect([...timed(logs), ...timed(spans)]).toEqual([new Date(TTFT_TIME).toISOString(), new Date(TTFT_TIME).toISOString()]);
    const created = (records: readonly { attributes: Record<string, unknown> }[]): unknown[] => records.filter((record) => record.attributes['event.kind'] === 'response.created').map((record) => record.attributes['event.timestamp']);
    expect([...created(logs), ...created(spans)]).toEqual([HOST_STAMP, HOST_STAMP]);

    // The catalog's lanes follow Codex's: MCP server names and the profile go to logs only.
    const startsLog = logs.find((log) => log.eventName === 'codex.conversation_starts');
    const startsSpan = spans.find((span) => span.name === 'codex.conversation_starts');
    expect(startsLog?.attributes).toMatchObject({ mcp_servers: 'github, linear', active_profile: 'work', 'auth.env_openai_api_key_present': true });
    expect(startsSpan?.attributes).toMatchObject({ mcp_server_count: 2, active_profile_present: true, 'auth.env_openai_api_key_present': true });
    expect(startsSpan?.attributes).not.toHaveProperty('mcp_servers');
    expect(startsSpan?.attributes).not.toHaveProperty('active_profile');
    expect(spans.find((span) => span.attributes['startup.phase'] === 'thread_start_create_thread')?.attributes).toMatchObject({ 'startup.status': 'ok', 'event.name': 'codex.startup_phase' });

    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.events.derivedMeasurements).toBe(3 + 2 + 4 * 2 + 1);
    expect(status.events.derivationsMissed).toEqual({
      'codex.startup_phase: no startup.phase': 1,
      'codex.tool_result: no tool_name': 1,
      'codex.turn_ttft: no durationMs or duration_ms': 1,
      'codex.sse_event: no durationMs or duration_ms': 1,
    });
    expect(status.events.laneOverrides).toEqual({ mcp_servers: 1, active_profile: 1 });
    const table = await runCli(harness.home(), ['status']);
    expect(table.stdout).toContain(
      'metrics not derived (codex.startup_phase: no startup.phase 1, codex.tool_result: no tool_name 1, codex.turn_ttft: no durationMs or duration_ms 1, codex.sse_event: no durationMs or duration_ms 1)',
    );
  });

  it('rejects bad events one by one with documented codes, ignores bad trace context, and keeps the rest', async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-3', attributes: CONTEXT });
    const tooMany = Object.fromEntries(Array.from({ length: MAX_EVENT_ATTRIBUTES + 1 }, (_, index) => [`k${index}`, index]));
    const reply = await peer.request(2, 'session/event', {
      events: [
        { sessionId: 'nobody', name: 'codex.user_prompt' },
        { sessionId: 's-3', name: 'codex.sse_event', traceparent: '00-not-a-trace-01', traceSafe: { 'event.kind': 'response.completed' } },
        { sessionId: 's-3', name: 'codex.tool_result', logOnly: { output: 'x'.repeat(MAX_EVENT_ATTRIBUTE_LENGTH + 1) } },
        { sessionId: 's-3', name: 'codex.tool_result', attributes: tooMany },
        { sessionId: 's-3', name: '9lives' },
        { sessionId: 's-3', name: 'codex.turn_ttft', durationMs: -1 },
        { sessionId: 's-3', name: 'codex.sse_event', attributes: { nested: { no: 1 } } },
        'not an event',
        { sessionId: 's-3', name: 'codex.websocket_event', tracestate: 'bad state' },
      ],
    });
    const result = reply.result as { accepted: number; rejected: { index: number; code: string; message: string }[] };
    expect(result.accepted).toBe(2);
    expect(result.rejected.map((rejection) => [rejection.index, rejection.code])).toEqual([
      [0, 'unknown_session'],
      [2, 'attribute_too_long'],
      [3, 'too_many_attributes'],
      [4, 'invalid_name'],
      [5, 'invalid_duration'],
      [6, 'invalid_attributes'],
      [7, 'invalid_event'],
    ]);
    expect(result.rejected[1]?.message).toBe(`events[2].logOnly.output: value of ${MAX_EVENT_ATTRIBUTE_LENGTH + 1} characters exceeds ${MAX_EVENT_ATTRIBUTE_LENGTH}`);
    expect(result.rejected[2]?.message).toContain(`more than ${MAX_EVENT_ATTRIBUTES} attributes`);

    // A notification with an unknown session is counted, not answered.
    peer.send({ jsonrpc: '2.0', method: 'session/event', params: { events: [{ sessionId: 'gone', name: 'codex.user_prompt' }] } });
    // A batch over the limit fails as a whole.
    const tooLarge = await peer.request(3, 'session/event', { events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => ({ sessionId: 's-3', name: 'codex.sse_event' })) });
    expect((tooLarge.error as { code: number }).code).toBe(ErrorCodes.BatchTooLarge);

    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.spans().length === 2, 10_000, 'two spans');
    // The event with a malformed traceparent is kept, as a span of a trace of its own.
    const sse = receiver.spans().find((span) => span.name === 'codex.sse_event');
    expect(sse?.parentSpanId).toBe('');
    expect(sse?.traceId).not.toBe('');
    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.events.invalidTraceContext).toBe(2);
    expect(status.signals.logs).toMatchObject({
      received: 9 + 1 + MAX_BATCH_EVENTS + 1,
      accepted: 2,
      exported: 2,
      rejected: { unknown_session: 2, attribute_too_long: 1, too_many_attributes: 1, invalid_name: 1, invalid_duration: 1, invalid_attributes: 1, invalid_event: 1, invalid_batch: MAX_BATCH_EVENTS + 1 },
    });
    expect(status.protocolErrors.batch_too_large).toBe(1);
    // The daemon still serves: a good event after all that is taken.
    expect((await peer.request(4, 'session/event', { events: [{ sessionId: 's-3', name: 'codex.turn_ttft', durationMs: 5 }] })).result).toEqual({ accepted: 1, rejected: [] });
  });

  it('drops spans of traces the caller did not sample, and counts them', async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-4' });
    await peer.request(2, 'session/event', { events: [{ sessionId: 's-4', name: 'codex.sse_event', traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-00` }] });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 1, 10_000, 'one log');
    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.signals.traces).toMatchObject({ received: 1, accepted: 0, dropped: { not_sampled: 1 } });
    expect(receiver.spans()).toEqual([]);
    expect(receiver.logRecords()[0]?.traceId).toBe(TRACE_ID);
  });

  it("writes a session's context once at the head of both lanes' attributes, an event's own value in its place, and redacts it there", async () => {
    const { receiver, daemon, peer } = await start();
    await peer.request(1, 'session/start', { sessionId: 's-6', attributes: { 'conversation.id': 'c-6', model: 'gpt-5.1-codex', 'user.email': 'ada@example.com' } });
    // A context that holds a field the log lane redacts: it is redacted there as the event's own would be.
    await peer.request(2, 'session/start', { sessionId: 's-7', attributes: { 'conversation.id': 'c-7', output: 'the context holds tool output' } });
    await peer.request(3, 'session/event', {
      events: [
        { sessionId: 's-6', name: 'codex.api_request', traceSafe: { attempt: 1 } },
        // The model changed mid-session: the event's value goes where the context has the key.
        { sessionId: 's-6', name: 'codex.api_request', traceSafe: { model: 'gpt-5.2-codex', attempt: 2 } },
        { sessionId: 's-7', name: 'codex.api_request', traceSafe: { attempt: 3 } },
      ],
    });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 3 && receiver.spans().length === 3, 10_000, 'three logs and three spans');
    const added = ['session.id', 'client.name', 'event.name', 'event.timestamp'];
    for (const attempt of [1, 2]) {
      const log = receiver.logRecords().find((record) => record.attributes.attempt === attempt);
      const span = receiver.spans().find((one) => one.attributes.attempt === attempt);
      expect(log?.attributeKeys).toEqual(['conversation.id', 'model', 'user.email', 'attempt', ...added]);
      expect(span?.attributeKeys).toEqual(['conversation.id', 'model', 'attempt', ...added]);
      const model = attempt === 1 ? 'gpt-5.1-codex' : 'gpt-5.2-codex';
      expect(log?.attributes).toMatchObject({ 'conversation.id': 'c-6', model, 'session.id': 's-6', 'client.name': 'Codex Desktop' });
      expect(span?.attributes).toMatchObject({ 'conversation.id': 'c-6', model, 'session.id': 's-6' });
    }
    const redacted = receiver.logRecords().find((record) => record.attributes.attempt === 3);
    expect(redacted?.attributeKeys).toEqual(['conversation.id', 'output', 'attempt', ...added]);
    expect(redacted?.attributes.output).toBe('[REDACTED]');
    // Tool output is kept to the log lane, from a context too.
    expect(receiver.spans().find((one) => one.attributes.attempt === 3)?.attributeKeys).toEqual(['conversation.id', 'attempt', ...added]);
  });

  it('adds the configured span attributes to every span, and upserts the configured tracestate members', async () => {
    const { receiver, daemon, peer } = await start({
      otel: ['span_attributes = { "deployment.team" = "dev-tools", model = "config-model" }', '[otel.tracestate.congo]', 'beta = "two"', 'alpha = "one"', '[otel.tracestate.acme]', 'tier = "gold"'].join('\n'),
    });
    await peer.request(1, 'session/start', { sessionId: 's-5', attributes: { model: 'gpt-5.1-codex' } });
    await peer.request(2, 'session/event', {
      events: [
        // The propagated member keeps its other fields; the configured ones are set and it moves to the front.
        { sessionId: 's-5', name: 'codex.sse_event', traceparent: TRACEPARENT, tracestate: 'rojo=00f067aa0ba902b7,congo=alpha:zero;keep:me' },
        // A span that starts a trace carries the configured members alone.
        { sessionId: 's-5', name: 'codex.websocket_event' },
      ],
    });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.spans().length === 2 && receiver.logRecords().length === 2, 10_000, 'two spans and two logs');
    const child = receiver.spans().find((span) => span.name === 'codex.sse_event');
    const root = receiver.spans().find((span) => span.name === 'codex.websocket_event');
    expect(child?.traceState).toBe('congo=alpha:one;keep:me;beta:two,acme=tier:gold,rojo=00f067aa0ba902b7');
    expect(child?.parentSpanId).toBe(PARENT_SPAN);
    expect(root?.traceState).toBe('congo=alpha:one;beta:two,acme=tier:gold');
    for (const span of [child, root]) {
      // The session's own model wins over the configured one.
      expect(span?.attributes).toMatchObject({ 'deployment.team': 'dev-tools', model: 'gpt-5.1-codex', 'session.id': 's-5' });
    }
    // Span attributes are for spans: the log lane is left as it was.
    for (const log of receiver.logRecords()) expect(log.attributes).not.toHaveProperty('deployment.team');
  });

  it("sends a host's session events through the client's helpers, cutting long values, and answers its summary", async () => {
    const { receiver, daemon } = await start();
    const run = await runNode(harness.home(), SESSION_HOST, ['script', 'codex-exec', 'thread-9']);
    expect(run.code, run.stderr).toBe(0);
    const output = JSON.parse(run.stdout) as { summary: Record<string, unknown>; phaseMs: number; stats: { events: { sent: number; dropped: Record<string, number> } }; errors: string[] };
    expect(output.stats.events).toMatchObject({ sent: 4, dropped: { invalid_name: 1 } });
    expect(output.errors.join('\n')).toContain('codex bad name');
    // The summary was asked after the events: it counts them.
    expect(output.summary).toMatchObject({ sessionId: 'thread-9', toolCalls: { count: 2, totalDurationMs: 15 }, lastTtftMs: 250 });

    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 4 && receiver.spans().length === 4, 10_000, 'four logs and spans');
    const phase = receiver.spans().find((span) => span.name === 'codex.startup_phase');
    expect(phase?.attributes).toMatchObject({ 'startup.phase': 'thread_start_create_thread', 'startup.status': 'ok', 'client.name': 'codex-exec', model: 'gpt-5.1-codex' });
    expect(Number((phase?.endTimeUnixNano ?? 0n) - (phase?.startTimeUnixNano ?? 0n)) / 1e6).toBeCloseTo(output.phaseMs, 3);
    expect(receiver.histogramTotals('codex.startup.phase.duration_ms', { phase: 'thread_start_create_thread', 'client.name': 'codex-exec' }).count).toBe(1);
    expect(receiver.histogramTotals('codex.turn.ttft.duration_ms', { session_source: 'exec' })).toEqual({ count: 1, sum: 250 });
    expect(JSON.stringify(receiver.spans().map((span) => span.attributes))).not.toContain('ada@example.com');
    // Tool output is redacted on the log lane by default, whatever its length.
    const outputs = receiver.logRecords().filter((log) => log.eventName === 'codex.tool_result').map((log) => [log.attributes.call_id, log.attributes.output]);
    expect(outputs).toEqual([
      ['call-1', '[REDACTED]'],
      ['call-2', undefined],
    ]);
    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.sessions.ended).toBe(1);
    expect(status.signals.logs.dropped).toEqual({ client_invalid_name: 1 });
  });

  it('keeps the long tool output, cut and marked, when the config logs tool content', async () => {
    const { receiver, daemon } = await start({ codexd: 'log_tool_content = true' });
    const run = await runNode(harness.home(), SESSION_HOST, ['script', 'codex-exec', 'thread-10']);
    expect(run.code, run.stderr).toBe(0);
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.logRecords().length === 4, 10_000, 'four logs');
    const output = receiver.logRecords().find((log) => log.attributes.call_id === 'call-1')?.attributes.output as string;
    expect(output.length).toBe(MAX_EVENT_ATTRIBUTE_LENGTH);
    expect(output.endsWith('…[truncated]')).toBe(true);
  });

  it('cuts a batch of long tool outputs into requests a collector takes: under its 4 MiB gRPC limit, every record once, in order', async () => {
    // 120 outputs of 60 KiB make one log batch of about 7 MiB: sent whole, the receiver (grpc-js,
    // 4 MiB by default, as a collector) would refuse it for good.
    const { receiver, daemon, peer } = await start({ codexd: 'log_tool_content = true' }, 60_000);
    await peer.request(1, 'session/start', { sessionId: 's-big' });
    const output = (index: number): string => `${String(index).padStart(4, '0')}:${'x'.repeat(60 * 1024 - 5)}`;
    const events = Array.from({ length: 120 }, (_, index) => ({ sessionId: 's-big', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', success: true, n: index }, logOnly: { output: output(index) } }));
    expect((await peer.request(2, 'session/event', { events })).result).toEqual({ accepted: 120, rejected: [] });
    const flushed = await daemon.request<{ complete: boolean }>('daemon/flush', {});
    expect(flushed.complete).toBe(true);
    const logs = receiver.logRecords();
    expect(logs.map((log) => Number(log.attributes.n))).toEqual(Array.from({ length: 120 }, (_, index) => index));
    expect(logs.every((log, index) => log.attributes.output === output(index))).toBe(true);
    expect(receiver.logsRequests.length).toBeGreaterThan(1);
    const status = (await daemon.request('daemon/status', {})) as DaemonStatus.Result;
    expect(status.signals.logs).toMatchObject({ accepted: 120, exported: 120, failed: 0, buffered: 0 });
  });

  it('hands over the events of a host that exits before the daemon is up, and the daemon ingests them with their session', async () => {
    const home = harness.home();
    const receiver = await harness.receiver();
    home.writeConfig(grpcConfig(receiver.endpoint, 100));
    const run = await runNode(home, SESSION_HOST, ['exit', 'codex-exec', 'thread-11']);
    expect(run.code, run.stderr).toBe(0);
    const output = JSON.parse(run.stdout) as { stats: { events: { buffered: number } } };
    expect(output.stats.events.buffered).toBe(4);
    const daemon = await harness.daemon();
    const current = receiver;
    await current.waitFor(() => current.logRecords().length === 4, 10_000, 'four handed-over logs');
    expect(current.logRecords().every((log) => log.attributes['session.id'] === 'thread-11' && log.attributes.model === 'gpt-5.1-codex')).toBe(true);
    const status = await daemon.status();
    expect(status.handoff).toMatchObject({ filesIngested: 1, eventsIngested: 4 });
    expect(status.signals.logs.dropped).toEqual({ client_invalid_name: 1 });
  });

  it('writes both lanes to the embedded file exporter when nothing is configured', async () => {
    const home = harness.home();
    await harness.daemon();
    const peer = await harness.peer('codex-tui');
    await peer.request(1, 'session/start', { sessionId: 's-5', attributes: { 'user.email': 'ada@example.com' } });
    await peer.request(2, 'session/event', { events: [{ sessionId: 's-5', name: 'codex.user_prompt', logOnly: { prompt: PROMPT }, traceSafe: { prompt_length: 3 } }] });
    const flush = await runCli(home, ['flush']);
    expect(flush.stdout).toMatch(/^flush complete in \d+ ms: metrics exported 0, buffered 0, dropped 0; logs exported 1, buffered 0, dropped 0; traces exported 1, buffered 0, dropped 0\n$/);
    const dir = join(home.env.XDG_DATA_HOME as string, 'codexd', 'telemetry');
    const logs = readFileSync(join(dir, 'logs.jsonl'), 'utf8');
    const traces = readFileSync(join(dir, 'traces.jsonl'), 'utf8');
    const logRecord = (JSON.parse(logs) as { resourceLogs: { scopeLogs: { scope: { name: string }; logRecords: { eventName: string; attributes: { key: string; value: { stringValue?: string } }[] }[] }[] }[] }).resourceLogs[0]?.scopeLogs[0];
    expect(logRecord?.scope.name).toBe('codex');
    expect(logRecord?.logRecords[0]?.eventName).toBe('codex.user_prompt');
    expect(logRecord?.logRecords[0]?.attributes).toContainEqual({ key: 'prompt', value: { stringValue: '[REDACTED]' } });
    expect(logs).not.toContain(PROMPT);
    expect(traces).toContain('"name":"codex.user_prompt"');
    expect(traces).not.toMatch(/ada@example\.com|REDACTED|secret-sauce/);
    const table = await runCli(home, ['status']);
    expect(table.stdout).toMatch(/logs\s+1\s+0\s+0\s+1\s+0\n/);
    expect(table.stdout).toMatch(/traces\s+1\s+0\s+0\s+1\s+0\n/);
    expect(table.stdout).toContain('events: redacted (prompt 1)');
  });

  it('holds events the collector refuses until it takes them, and exports what it accepted when stopped with SIGTERM', async () => {
    // A long interval: only a flush or the stop can export.
    const { receiver, daemon: running, peer } = await start({}, 600_000);
    await peer.request(1, 'session/start', { sessionId: 's-6' });
    receiver.setBehavior('unavailable');
    await peer.request(2, 'session/event', { events: [{ sessionId: 's-6', name: 'codex.sse_event' }] });
    await running.request('daemon/flush', {});
    const failing = await running.status();
    expect(failing.signals.logs).toMatchObject({ accepted: 1, failed: 0, buffered: 1, droppedTotal: 0 });
    expect(failing.exporters.find((exporter) => exporter.signal === 'traces')?.state).toBe('failing');
    receiver.setBehavior('ok');
    await running.request('daemon/flush', {});
    expect(receiver.logRecords().length).toBe(1);
    expect(receiver.spans().length).toBe(1);
    // Notifications, then SIGTERM at once: the stop takes them in and exports them.
    for (let index = 0; index < 50; index++) peer.send({ jsonrpc: '2.0', method: 'session/event', params: { events: [{ sessionId: 's-6', name: 'codex.sse_event', traceSafe: { n: index } }] } });
    expect(receiver.logRecords().length).toBe(1);
    expect(await running.stop()).toEqual({ code: 0, signal: null });
    expect(receiver.logRecords().length).toBe(51);
    expect(receiver.spans().length).toBe(51);
  });

  it('bounds what a lane holds in characters under a burst, refusing what does not fit to the request that sent it', async () => {
    // The memory limiter's default would refuse part of this burst first (-32018): lifted, so
    // that the lane's own bound is what is tested.
    const { receiver, daemon, peer } = await start({ codexd: 'log_tool_content = true\nmemory_limit_mib = 1024' }, 600_000);
    await peer.request(1, 'session/start', { sessionId: 's-7' });
    receiver.setBehavior('hang');
    const output = 'o'.repeat(MAX_EVENT_ATTRIBUTE_LENGTH);
    const perBatch = 100;
    const batches = Math.ceil((MAX_LANE_CHARS / output.length) * 1.2 / perBatch);
    let answeredAccepted = 0;
    let answeredFull = 0;
    for (let batch = 0; batch < batches; batch++) {
      const reply = await peer.request(2 + batch, 'session/event', {
        events: Array.from({ length: perBatch }, (_, index) => ({ sessionId: 's-7', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', call_id: `c${batch}-${index}` }, logOnly: { output } })),
      });
      const result = reply.result as { accepted: number; rejected: { code: string }[] };
      answeredAccepted += result.accepted;
      answeredFull += result.rejected.filter((rejection) => rejection.code === 'queue_full').length;
      expect(result.accepted + result.rejected.length).toBe(perBatch);
    }
    const status = await daemon.status();
    const sent = batches * perBatch;
    const logs = status.signals.logs;
    // The log lane holds at most MAX_LANE_CHARS of content; the rest is refused and counted.
    expect(logs.dropped.queue_full).toBeGreaterThan(0);
    expect(logs.accepted).toBeLessThanOrEqual(Math.floor(MAX_LANE_CHARS / output.length));
    expect(logs.accepted + (logs.dropped.queue_full ?? 0)).toBe(sent);
    // Each event the log lane refused was refused to its request, and nothing was counted twice.
    expect([answeredAccepted, answeredFull]).toEqual([logs.accepted, logs.dropped.queue_full]);
    expect(logs.rejectedTotal).toBe(0);
    // The trace lane had room for every span, but takes only the events the log lane took: an
    // event refused to its request is sent again, and its span would then be there twice.
    expect(status.signals.traces).toMatchObject({ accepted: logs.accepted, dropped: { queue_full: logs.dropped.queue_full } });
  });
});
