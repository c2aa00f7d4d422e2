/**
 * Host-made spans (`trace/span`) and per-host resources, over a real socket into a real
 * OTLP/gRPC receiver: each span arrives with the host's ids, kind, times, status, events and
 * links; the catalog's log-only fields never reach a span; every host's data arrives under its
 * own resource; spans acknowledged by a request survive kill -9; a hand-off file's spans arrive.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { type DaemonStatus, ErrorCodes, type HostSpan, MAX_BATCH_SPANS, MAX_SPAN_EVENTS } from '../protocol/index.js';
import { type DaemonProcess, runCli, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver, SpanReceived } from './support/otlp-receiver.js';
import type { RawPeer } from './support/raw-client.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const T0 = 1_767_225_600_000.25;

/** A turn's tree as Codex's app-server makes it: a SERVER span with `/` names under it. */
function turnTree(): HostSpan[] {
  return [
    {
      traceId: TRACE,
      spanId: 'b7ad6b7169203331',
      name: 'turn/start',
      kind: 'server',
      startTime: T0,
      endTime: T0 + 1500.5,
      status: { code: 'ok' },
      attributes: { 'rpc.method': 'turn/start', 'turn.id': 't-1', prompt: 'the user prompt text' },
      events: [{ name: 'turn.queued', time: T0 + 1, attributes: { depth: 2, output: 'tool output text' } }],
    },
    {
      traceId: TRACE,
      spanId: '00f067aa0ba902b7',
      parentSpanId: 'b7ad6b7169203331',
      name: 'thread/items/list',
      startTime: T0 + 10,
      endTime: T0 + 20,
      attributes: { items: 12 },
      links: [{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '53995c3f42cd8ad8', attributes: { 'link.kind': 'follows' } }],
    },
    {
      traceId: TRACE,
      spanId: '1a2b3c4d5e6f7081',
      parentSpanId: '00f067aa0ba902b7',
      name: 'handle_responses sse/stream',
      kind: 'client',
      startTime: T0 + 30,
      endTime: T0 + 900,
      status: { code: 'error', message: 'stream closed early' },
      tracestate: 'vendor=abc',
      scope: { name: 'codex_otel', version: '0.169.0' },
    },
  ];
}

describe('host-made spans', () => {
  const harness = useHarness();

  const start = (): Promise<{ home: TestHome; receiver: OtlpReceiver; daemon: DaemonProcess }> =>
    harness.start({ intervalMs: 100, otel: 'span_attributes = { "deployment.team" = "tools" }\n[otel.tracestate.codexd]\nhost = "laptop"' });

  async function peer(name: string, resource?: Record<string, string | number | boolean>): Promise<RawPeer> {
    const opened = await harness.peer(null);
    const answer = await opened.request(0, 'initialize', { protocolVersion: 1, clientInfo: { name, version: '9.9.9' }, ...(resource === undefined ? {} : { resource }) });
    expect(answer.result).toMatchObject({ limits: { maxBatchSpans: MAX_BATCH_SPANS } });
    return opened;
  }

  it('exports each span under the host ids, kind, times, status, events and links, with log-only fields kept off', async () => {
    const { receiver, daemon } = await start();
    const exec = await peer('codex-exec', { 'service.name': 'codex_exec', 'service.version': '0.169.0', os: 'Linux', os_version: '6.1', env: 'dev' });
    const reply = await exec.request(1, 'trace/span', { spans: turnTree() });
    expect(reply.result).toEqual({ accepted: 3, rejected: [] });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.spans().length >= 3, 10_000, 'three spans');
    const got = new Map(receiver.spans().map((span) => [span.spanId, span]));
    const [root, list, stream] = [got.get('b7ad6b7169203331'), got.get('00f067aa0ba902b7'), got.get('1a2b3c4d5e6f7081')] as [SpanReceived, SpanReceived, SpanReceived];

    // Ids and the tree exactly as sent.
    for (const span of [root, list, stream]) expect(span.traceId).toBe(TRACE);
    expect(root.parentSpanId).toBe('');
    expect(list.parentSpanId).toBe(root.spanId);
    expect(stream.parentSpanId).toBe(list.spanId);
    expect([root.name, list.name, stream.name]).toEqual(['turn/start', 'thread/items/list', 'handle_responses sse/stream']);
    expect([root.kind, list.kind, stream.kind]).toEqual(['SPAN_KIND_SERVER', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_CLIENT']);
    expect(root.status).toEqual({ code: 'STATUS_CODE_OK', message: '' });
    expect(stream.status).toEqual({ code: 'STATUS_CODE_ERROR', message: 'stream closed early' });
    expect(list.status.code).toBe('STATUS_CODE_UNSET');
    // Times to the microsecond (epoch milliseconds with a fraction).
    expect(root.startTimeUnixNano).toBe(1_767_225_600_000_250_000n);
    expect(root.endTimeUnixNano).toBe(1_767_225_601_500_750_000n);
    expect(root.flags & 0xff).toBe(1);

    // Attributes: the host's, the configured span attributes under them; the prompt is log-only.
    expect(root.attributes).toEqual({ 'rpc.method': 'turn/start', 'turn.id': 't-1', 'deployment.team': 'tools' });
    expect(root.events).toEqual([{ name: 'turn.queued', attributes: { depth: 2 }, timeUnixNano: 1_767_225_600_001_250_000n }]);
    expect(list.links).toEqual([{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '53995c3f42cd8ad8', traceState: '', attributes: { 'link.kind': 'follows' } }]);
    // The configured tracestate member joins the host's own, in front (W3C).
    expect(stream.traceState).toBe('codexd=host:laptop,vendor=abc');

    // The host's resource, codexd only as the distribution.
    expect(root.resource).toMatchObject({ 'service.name': 'codex_exec', 'service.version': '0.169.0', os: 'Linux', os_version: '6.1', env: 'dev', 'telemetry.distro.name': 'codexd' });
    // The scope: the host's own where it named one, else codex.
    expect(root.scope).toBe('codex');
    expect(stream.scope).toBe('codex_otel');

    const status = await daemon.status();
    expect(status.signals.traces).toMatchObject({ received: 3, accepted: 3, exported: 3, rejectedTotal: 0 });
    expect(status.spans.laneOverrides).toEqual({ prompt: 1, output: 1 });
    expect(status.clients.find((client) => client.name === 'codex-exec')).toMatchObject({ spansReceived: 3, serviceName: 'codex_exec' });
    const printed = await runCli(harness.home(), ['status']);
    expect(printed.stdout).toContain('host spans: log-only fields kept off');
    expect(printed.stdout).toMatch(/codex-exec\s+9\.9\.9\s+codex_exec\s/);
  });

  it('gives a session its trace-safe context on the spans that name it, never its log-only fields', async () => {
    const { receiver, daemon } = await start();
    const tui = await peer('codex-tui');
    await tui.request(1, 'session/start', { sessionId: 'thread-7', attributes: { model: 'gpt-5.1-codex', originator: 'codex_cli_rs', 'user.email': 'ada@example.com' } });
    const [root] = turnTree();
    expect((await tui.request(2, 'trace/span', { spans: [{ ...root, sessionId: 'thread-7' }] })).result).toEqual({ accepted: 1, rejected: [] });
    const unknown = await tui.request(3, 'trace/span', { spans: [{ ...root, spanId: 'ffffffffffffffff', sessionId: 'never-started' }] });
    expect(unknown.result).toEqual({ accepted: 0, rejected: [{ index: 0, code: 'unknown_session', message: expect.stringContaining('spans[0].sessionId: no session "never-started"') }] });
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.spans().length >= 1, 10_000, 'the span');
    const [span] = receiver.spans();
    expect(span?.attributes).toMatchObject({ model: 'gpt-5.1-codex', originator: 'codex_cli_rs', 'session.id': 'thread-7', 'client.name': 'codex-tui', 'turn.id': 't-1' });
    expect(span?.attributes).not.toHaveProperty('user.email');
    expect(span?.resource).toMatchObject({ 'service.name': 'codex-tui', 'service.version': '9.9.9' });
    // Counted: the host's own misplaced fields. Not counted: the session's log-only context
    // (user.email), left off as it always is.
    expect((await daemon.status()).spans).toEqual({ withSession: 1, laneOverrides: { prompt: 1, output: 1 } });
  });

  it('refuses each bad span with a reason naming the field, keeps the good ones, and refuses an oversized batch whole', async () => {
    const { daemon } = await start();
    const host = await peer('codex-exec');
    const [good] = turnTree() as [HostSpan];
    const bad: unknown[] = [
      { ...good, traceId: 'XYZ' },
      { ...good, spanId: '0000000000000000' },
      { ...good, name: '' },
      { ...good, kind: 'sideways' },
      { ...good, endTime: good.startTime - 1 },
      { ...good, startTime: 9e15 },
      { ...good, status: { code: 'fine' } },
      { ...good, events: Array.from({ length: MAX_SPAN_EVENTS + 1 }, () => ({ name: 'e', time: T0 })) },
      { ...good, links: [{ traceId: TRACE }] },
      { ...good, flags: 256 },
      { ...good, attributes: { nested: { no: true } } },
      { ...good, scope: { name: '' } },
      'not a span',
      good,
    ];
    const reply = await host.request(1, 'trace/span', { spans: bad });
    const result = reply.result as { accepted: number; rejected: { index: number; code: string; message: string }[] };
    expect(result.accepted).toBe(1);
    expect(result.rejected.map((rejection) => [rejection.index, rejection.code])).toEqual([
      [0, 'invalid_span_id'],
      [1, 'invalid_span_id'],
      [2, 'invalid_name'],
      [3, 'invalid_kind'],
      [4, 'invalid_time'],
      [5, 'invalid_time'],
      [6, 'invalid_status'],
      [7, 'invalid_span_event'],
      [8, 'invalid_span_id'],
      [9, 'invalid_trace_context'],
      [10, 'invalid_attributes'],
      [11, 'invalid_span'],
      [12, 'invalid_span'],
    ]);
    expect(result.rejected[0]?.message).toBe('spans[0].traceId: must be 32 lowercase hex digits, not all zero');
    expect(result.rejected[4]?.message).toBe('spans[4].endTime: must not be before startTime');
    expect(result.rejected[8]?.message).toBe('spans[8].links[0].spanId: must be 16 lowercase hex digits, not all zero');
    expect(result.rejected[7]?.message).toBe(`spans[7].events: ${MAX_SPAN_EVENTS + 1} events exceed the limit of ${MAX_SPAN_EVENTS}`);
    const tooMany = await host.request(2, 'trace/span', { spans: Array.from({ length: MAX_BATCH_SPANS + 1 }, () => good) });
    expect(tooMany.error).toMatchObject({ code: ErrorCodes.BatchTooLarge, message: `params.spans: ${MAX_BATCH_SPANS + 1} spans exceed the batch limit of ${MAX_BATCH_SPANS}` });
    // The connection and the daemon serve on.
    expect((await host.request(3, 'trace/span', { spans: [good] })).result).toEqual({ accepted: 1, rejected: [] });
    const status: DaemonStatus.Result = await daemon.status();
    expect(status.signals.traces.rejected).toMatchObject({ invalid_span_id: 3, invalid_batch: MAX_BATCH_SPANS + 1 });
    expect(status.signals.traces.accepted).toBe(2);
  });

  it('keeps two hosts apart: each host its resource, no series merged across them', async () => {
    const { receiver, daemon } = await start();
    const exec = await peer('codex-exec', { 'service.name': 'codex_exec', 'service.version': '0.169.0' });
    const server = await peer('codex-app-server', { 'service.name': 'codex_app_server', 'service.version': '0.169.0' });
    const record = { name: 'codex.tool.call', kind: 'counter', tags: { tool: 'shell', success: 'true' } };
    expect((await exec.request(1, 'metric/record', { records: [{ ...record, value: 3 }] })).result).toEqual({ accepted: 1, rejected: [] });
    expect((await server.request(1, 'metric/record', { records: [{ ...record, value: 5 }] })).result).toEqual({ accepted: 1, rejected: [] });
    for (const [host, id] of [[exec, 'aaaaaaaaaaaaaaaa'], [server, 'bbbbbbbbbbbbbbbb']] as const) {
      expect((await host.request(2, 'trace/span', { spans: [{ ...(turnTree()[0] as HostSpan), spanId: id }] })).result).toEqual({ accepted: 1, rejected: [] });
    }
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.sumOf('codex.tool.call') === 8 && receiver.spans().length === 2, 10_000, 'both hosts');
    const points = receiver.points().filter((point) => point.name === 'codex.tool.call');
    expect(points.map((point) => [point.resource['service.name'], point.value]).sort()).toEqual([
      ['codex_app_server', 5],
      ['codex_exec', 3],
    ]);
    // What kept the series apart (a meter per host) is the daemon's own business: it never leaves.
    for (const point of points) expect(Object.keys(point.attributes).sort()).toEqual(['success', 'tool']);
    const scopes = (receiver.metricsRequests as { resource_metrics: { scope_metrics: { scope: { name: string; version: string } }[] }[] }[]).flatMap((request) =>
      request.resource_metrics.flatMap((resource) => resource.scope_metrics.map((scope) => `${scope.scope.name}@${scope.scope.version}`)),
    );
    expect(new Set(scopes)).toEqual(new Set(['codex@']));
    const services = Object.fromEntries(receiver.spans().map((span) => [span.spanId, span.resource['service.name']]));
    expect(services).toEqual({ aaaaaaaaaaaaaaaa: 'codex_exec', bbbbbbbbbbbbbbbb: 'codex_app_server' });
    // The daemon's own, the two hosts' (and the status command's own connection).
    expect((await daemon.status()).resources).toMatchObject({ held: expect.any(Number), overflow: 0 });
    expect((await daemon.status()).resources.held).toBeGreaterThanOrEqual(3);
  });

  it('after kill -9, replays the spans a request acknowledged, with their ids and their host resource', async () => {
    const { home, receiver } = await start();
    const exec = await peer('codex-exec', { 'service.name': 'codex_exec', 'service.version': '0.169.0' });
    expect((await exec.request(1, 'trace/span', { spans: turnTree() })).result).toEqual({ accepted: 3, rejected: [] });
    expect((await exec.request(2, 'metric/record', { records: [{ name: 'codex.turn.count', kind: 'counter', value: 2 }] })).result).toEqual({ accepted: 1, rejected: [] });
    const killed = harness.running as DaemonProcess;
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(receiver.spans()).toHaveLength(0);

    const daemon = await harness.daemon();
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver.spans().length >= 3 && receiver.sumOf('codex.turn.count') === 2, 10_000, 'the replayed spans and records');
    expect(receiver.spans().map((span) => [span.spanId, span.parentSpanId, span.resource['service.name']]).sort()).toEqual([
      ['00f067aa0ba902b7', 'b7ad6b7169203331', 'codex_exec'],
      ['1a2b3c4d5e6f7081', '00f067aa0ba902b7', 'codex_exec'],
      ['b7ad6b7169203331', '', 'codex_exec'],
    ]);
    expect(receiver.points().find((point) => point.name === 'codex.turn.count')?.resource['service.name']).toBe('codex_exec');
  });

  it('takes in the spans of a hand-off file under the resource the host gave', async () => {
    const { home, receiver, daemon } = await start();
    const dir = join(home.dir, 'run', 'handoff');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const handoff = {
      version: 1,
      clientInfo: { name: 'codex-exec', version: '0.169.0' },
      resource: { 'service.name': 'codex_exec', os: 'Linux' },
      pid: 4242,
      records: [],
      spans: turnTree(),
      spansDropped: { client_span_open: 2 },
    };
    writeFileSync(join(dir, '.h.tmp'), JSON.stringify(handoff));
    renameSync(join(dir, '.h.tmp'), join(dir, 'h.json'));
    await receiver.waitFor(() => receiver.spans().length >= 3, 10_000, 'the handed-over spans');
    expect(new Set(receiver.spans().map((span) => span.resource['service.name']))).toEqual(new Set(['codex_exec']));
    const status = await daemon.status();
    expect(status.handoff).toMatchObject({ filesIngested: 1, spansIngested: 3 });
    expect(status.signals.traces.dropped).toMatchObject({ client_span_open: 2 });
  });
});
