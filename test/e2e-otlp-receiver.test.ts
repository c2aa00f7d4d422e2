/**
 * The OTLP/HTTP receiver: spans an OpenTelemetry SDK made and serialised itself (its own OTLP
 * protobuf and JSON serialisers, as its OTLP/HTTP exporters send them) go to the daemon's
 * /v1/traces with the bearer token, and arrive at a real OTLP/gRPC receiver as the SDK made them:
 * ids, parents, names, kinds, events, status, the sender's resource and scope. What the catalog
 * keeps to logs (a prompt) never reaches a span. Without the token, with the wrong content type
 * or with a body that is not OTLP, the answer says so and nothing is taken in.
 */
import { readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

import { Client, credentials, Metadata, type ServiceError, status as GrpcStatus } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SeverityNumber, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { JsonLogsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type LogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AlwaysOnSampler, type ReadableSpan, SimpleSpanProcessor, type SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';

import { retryInfoDelayMs } from '../daemon/delivery/grpc-sender.js';
import { decodeLogsRequest } from '../daemon/otlp/decode-logs.js';
import { decodeTraceRequest } from '../daemon/otlp/decode-traces.js';
import { ProtobufError } from '../daemon/protobuf.js';
import type { DaemonStatus } from '../protocol/index.js';
import { type DaemonProcess, grpcConfig, runCli, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer } from './support/raw-client.js';

/** A turn as an SDK records it: a server root, a child with an event and a prompt, a failed grandchild. */
async function sdkSpans(serviceName: string): Promise<ReadableSpan[]> {
  const finished: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export: (spans, done) => {
      finished.push(...spans);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.version': '0.169.0', os: 'linux' }),
    sampler: new AlwaysOnSampler(),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('codex_otel', '0.169.0');
  const root = tracer.startSpan('turn/start', { kind: SpanKind.SERVER, attributes: { 'turn.id': 't-1' } });
  const rootContext = trace.setSpan(ROOT_CONTEXT, root);
  const child = tracer.startSpan('thread/items/list', { attributes: { prompt: 'my secret plan', items: 3 } }, rootContext);
  child.addEvent('page', { page: 1 });
  const grandchild = tracer.startSpan('exec', { kind: SpanKind.CLIENT }, trace.setSpan(rootContext, child));
  grandchild.setStatus({ code: SpanStatusCode.ERROR, message: 'exit 1' });
  grandchild.end();
  child.end();
  root.end();
  await provider.shutdown();
  return finished;
}

/** Two of Codex's log events as its SDK records them: a prompt in a span's context, and a tool result. */
async function sdkLogRecords(): Promise<ReadableLogRecord[]> {
  const finished: ReadableLogRecord[] = [];
  const exporter: LogRecordExporter = {
    export: (records, done) => {
      finished.push(...records);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
    forceFlush: () => Promise.resolve(),
  };
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'codex_exec', 'service.version': '0.169.0' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('codex_otel', '0.169.0');
  const inSpan = trace.setSpanContext(ROOT_CONTEXT, { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 });
  logger.emit({
    eventName: 'codex.user_prompt',
    body: 'codex.user_prompt',
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    timestamp: [1_764_866_698, 123_456_789],
    context: inSpan,
    attributes: { 'event.name': 'codex.user_prompt', prompt: 'my secret plan', prompt_length: 14, 'conversation.id': 'c-1' },
  });
  logger.emit({ eventName: 'codex.tool_result', body: 'codex.tool_result', severityNumber: SeverityNumber.INFO, attributes: { tool_name: 'shell', arguments: 'rm -rf ~/secrets', output: 'done', success: 'true' } });
  await provider.shutdown();
  return finished;
}

describe('OTLP/HTTP receiver', () => {
  const harness = useHarness();
  let home: TestHome | undefined;
  let receiver: OtlpReceiver | undefined;
  let daemon: DaemonProcess | undefined;

  it('takes an SDK\'s spans over /v1/traces, protobuf and JSON, into the trace lane as the SDK made them, and refuses a sender without the token', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    home.writeConfig(`${grpcConfig(receiver.endpoint)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const control = await openRawPeer(home.socketPath);
    await control.initialize('otlp-test');
    const status = (await control.request(1, 'daemon/status', {})).result as DaemonStatus.Result;
    const otlp = status.otlpReceiver;
    expect(otlp).toMatchObject({ http: expect.stringMatching(/^127\.0\.0\.1:\d+$/), error: null });
    const tokenFile = otlp?.tokenFile as string;
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    const url = `http://${otlp?.http}/v1/traces`;
    const headers = { authorization: `Bearer ${token}` };

    const spans = await sdkSpans('codex_exec');
    const protobuf = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
    // Refused: no token, a wrong token, a content type it does not take, a body that is not OTLP.
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: protobuf })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${'0'.repeat(64)}` }, body: protobuf })).status).toBe(401);
    expect((await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'hello' })).status).toBe(415);
    const garbage = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0xff, 0xff, 0x01]) });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { message: string }).message).toContain('not an OTLP trace export request');
    const unknownPath = await fetch(`http://${otlp?.http}/v1/profiles`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf' }, body: new Uint8Array() });
    expect(unknownPath.status).toBe(404);
    expect(((await unknownPath.json()) as { message: string }).message).toContain('metrics at /v1/metrics, not /v1/profiles');

    // gzip is taken; a small body that unpacks past the bound is refused before it fills memory.
    const bomb = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(40 * 1024 * 1024)) });
    expect(bomb.status).toBe(413);
    expect(((await bomb.json()) as { message: string }).message).toContain('unpacks past 33554432 bytes');
    // Taken: protobuf, then the same spans' JSON under another service.
    const taken = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body: gzipSync(protobuf) });
    expect(taken.status).toBe(200);
    expect((await taken.arrayBuffer()).byteLength).toBe(0);
    const jsonSpans = await sdkSpans('codex_tui');
    const json = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JsonTraceSerializer.serializeRequest(jsonSpans) as Uint8Array });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});

    await receiver.waitFor(() => receiver?.spans().length === 6, 10_000, 'six spans');
    for (const [service, sent] of [['codex_exec', spans], ['codex_tui', jsonSpans]] as const) {
      const arrived = (receiver.spans() ?? []).filter((span) => span.resource['service.name'] === service);
      expect(arrived).toHaveLength(3);
      for (const made of sent) {
        const got = arrived.find((span) => span.spanId === made.spanContext().spanId);
        expect(got, made.name).toBeDefined();
        expect(got).toMatchObject({ traceId: made.spanContext().traceId, parentSpanId: made.parentSpanContext?.spanId ?? '', name: made.name, scope: 'codex_otel' });
        expect(got?.resource).toMatchObject({ 'service.name': service, 'service.version': '0.169.0', os: 'linux' });
        const sentNanos = BigInt(made.startTime[0]) * 1_000_000_000n + BigInt(made.startTime[1]);
        expect(Math.abs(Number((got?.startTimeUnixNano ?? 0n) - sentNanos))).toBeLessThan(1000);
      }
      const byName = Object.fromEntries(arrived.map((span) => [span.name, span]));
      expect(byName['turn/start']?.kind).toBe('SPAN_KIND_SERVER');
      expect(byName.exec).toMatchObject({ kind: 'SPAN_KIND_CLIENT', status: { code: 'STATUS_CODE_ERROR', message: 'exit 1' } });
      // The prompt is the catalog's log-only field: never on a span. The rest is as sent.
      expect(byName['thread/items/list']?.attributes).toEqual({ items: 3 });
      expect(byName['thread/items/list']?.events.map((event) => [event.name, event.attributes])).toEqual([['page', { page: 1 }]]);
    }

    const after = (await control.request(2, 'daemon/status', {})).result as DaemonStatus.Result;
    expect(after.otlpReceiver).toMatchObject({ requests: { '200': 2, '401': 2, '415': 1, '400': 1, '404': 1, '413': 1 }, spansBySender: { codex_exec: 3, codex_tui: 3 }, spansRefused: {} });
    expect(after.spans.laneOverrides).toEqual({ prompt: 2 });
    expect(after.signals.traces).toMatchObject({ received: 6, accepted: 6, rejectedTotal: 0 });
    const text = (await runCli(home, ['status'])).stdout;
    expect(text).toMatch(/otlp +http:\/\/127\.0\.0\.1:\d+\/v1\/\{traces,logs,metrics\} \(token in \S+otlp-token\); 6 spans taken \(codex_exec 3, codex_tui 3\), 0 log records taken, 0 metric points taken; HTTP answers \(200 2, 400 1, 401 2, 404 1, 413 1, 415 1\)/);
    expect(text).not.toContain(token);
    control.destroy();
  }, 40_000);

  it('takes an SDK\'s log records over /v1/logs as the SDK made them, the prompt and tool content redacted', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    home.writeConfig(`${grpcConfig(receiver.endpoint)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const control = await openRawPeer(home.socketPath);
    await control.initialize('otlp-test');
    const otlp = ((await control.request(1, 'daemon/status', {})).result as DaemonStatus.Result).otlpReceiver;
    const token = readFileSync(otlp?.tokenFile as string, 'utf8').trim();
    const url = `http://${otlp?.http}/v1/logs`;

    const records = await sdkLogRecords();
    const protobuf = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf' }, body: ProtobufLogsSerializer.serializeRequest(records) as Uint8Array });
    expect(protobuf.status).toBe(200);
    const json = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JsonLogsSerializer.serializeRequest(records) as Uint8Array });
    expect(json.status).toBe(200);
    expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);

    await receiver.waitFor(() => receiver?.logRecords().length === 4, 10_000, 'four log records');
    const arrived = receiver.logRecords();
    for (const got of arrived) {
      expect(got.resource).toMatchObject({ 'service.name': 'codex_exec', 'service.version': '0.169.0' });
      expect(got.scope).toBe('codex_otel');
    }
    const prompts = arrived.filter((record) => record.eventName === 'codex.user_prompt');
    expect(prompts).toHaveLength(2);
    for (const prompt of prompts) {
      expect(prompt).toMatchObject({ body: 'codex.user_prompt', severityText: 'INFO', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
      // Redacted by field name, as for a session event; the rest exactly as sent.
      expect(prompt.attributes).toEqual({ 'event.name': 'codex.user_prompt', prompt: '[REDACTED]', prompt_length: 14, 'conversation.id': 'c-1' });
      // To the microsecond (the lane keeps epoch milliseconds as a double).
      expect(Math.abs(Number(prompt.timeUnixNano - 1_764_866_698_123_456_000n))).toBeLessThan(1000);
    }
    const tools = arrived.filter((record) => record.eventName === 'codex.tool_result');
    expect(tools.map((record) => record.attributes)).toEqual([0, 1].map(() => ({ tool_name: 'shell', arguments: '[REDACTED]', output: '[REDACTED]', success: 'true' })));

    const after = ((await control.request(2, 'daemon/status', {})).result as DaemonStatus.Result);
    expect(after.otlpReceiver).toMatchObject({ logsBySender: { codex_exec: 4 }, logsRefused: {}, redacted: { prompt: 2, arguments: 2, output: 2 } });
    expect(after.signals.logs).toMatchObject({ received: 4, accepted: 4, rejectedTotal: 0 });
    // Nothing is derived from them: the sender records its own metrics.
    expect(after.signals.metrics.received).toBe(0);
    expect(after.events.derivedMeasurements).toBe(0);
    control.destroy();
  }, 40_000);

  it('after kill -9, replays what it answered 200 for: the spans and log records, under their senders\' resources', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    // Nothing is exported before the kill: the lanes wait a minute for a batch.
    home.writeConfig(`${grpcConfig(receiver.endpoint, 60_000)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    const headers = { authorization: `Bearer ${readFileSync(otlp?.tokenFile as string, 'utf8').trim()}`, 'content-type': 'application/x-protobuf' };
    const spans = await sdkSpans('codex_exec');
    expect((await fetch(`http://${otlp?.http}/v1/traces`, { method: 'POST', headers, body: ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array })).status).toBe(200);
    expect((await fetch(`http://${otlp?.http}/v1/logs`, { method: 'POST', headers, body: ProtobufLogsSerializer.serializeRequest(await sdkLogRecords()) as Uint8Array })).status).toBe(200);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    expect(receiver.spans()).toHaveLength(0);

    daemon = await harness.daemon();
    await daemon.request('daemon/flush', {});
    await receiver.waitFor(() => receiver?.spans().length === 3 && receiver.logRecords().length === 2, 10_000, 'the replayed spans and log records');
    expect(receiver.spans().map((span) => span.spanId).sort()).toEqual(spans.map((span) => span.spanContext().spanId).sort());
    expect(new Set([...receiver.spans(), ...receiver.logRecords()].map((item) => item.resource['service.name']))).toEqual(new Set(['codex_exec']));
    expect(receiver.logRecords().find((record) => record.eventName === 'codex.user_prompt')?.attributes.prompt).toBe('[REDACTED]');
  }, 40_000);

  it('takes spans and log records from the SDK\'s own OTLP/gRPC exporters, and refuses them without the token', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    home.writeConfig(`${grpcConfig(receiver.endpoint)}\n[codexd.otlp_receiver]\ngrpc = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    expect(otlp).toMatchObject({ http: null, grpc: expect.stringMatching(/^127\.0\.0\.1:\d+$/), error: null });
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${readFileSync(otlp?.tokenFile as string, 'utf8').trim()}`);
    const url = `http://${otlp?.grpc}`;
    const exported = (exporter: { export(items: never[], done: (result: ExportResult) => void): void }, items: unknown[]): Promise<ExportResult> => new Promise((resolve) => exporter.export(items as never[], resolve));

    const spans = await sdkSpans('codex_exec');
    const stranger = new OTLPTraceExporter({ url });
    const refused = await exported(stranger, spans);
    expect(refused.code).toBe(ExportResultCode.FAILED);
    expect(String(refused.error)).toContain('UNAUTHENTICATED');
    await stranger.shutdown();
    const traces = new OTLPTraceExporter({ url, metadata });
    expect((await exported(traces, spans)).code).toBe(ExportResultCode.SUCCESS);
    const logs = new OTLPLogExporter({ url, metadata });
    expect((await exported(logs, await sdkLogRecords())).code).toBe(ExportResultCode.SUCCESS);
    await Promise.all([traces.shutdown(), logs.shutdown()]);

    await receiver.waitFor(() => receiver?.spans().length === 3 && receiver.logRecords().length === 2, 10_000, 'three spans and two log records');
    expect(receiver.spans().map((span) => span.spanId).sort()).toEqual(spans.map((span) => span.spanContext().spanId).sort());
    expect(receiver.logRecords().find((record) => record.eventName === 'codex.tool_result')?.attributes.output).toBe('[REDACTED]');
    const after = (await daemon.status()).otlpReceiver;
    expect(after).toMatchObject({ grpcRequests: { OK: 2, UNAUTHENTICATED: 1 }, spansBySender: { codex_exec: 3 }, logsBySender: { codex_exec: 2 } });
    expect((await runCli(home, ['status'])).stdout).toMatch(/otlp +grpc 127\.0\.0\.1:\d+ \(token in \S+\); 3 spans taken \(codex_exec 3\), 2 log records taken \(codex_exec 2\), 0 metric points taken; redacted \(prompt 1, arguments 1, output 1\); gRPC answers \(UNAUTHENTICATED 1, OK 2\)/);
  }, 40_000);

  it('over the memory limit asks senders to come back: 429 with Retry-After, RESOURCE_EXHAUSTED with a RetryInfo', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    // A soft limit of 1 MiB: the daemon is over it from its start.
    home.writeConfig(`${grpcConfig(receiver.endpoint, 200, { codexd: 'memory_limit_mib = 4096\nmemory_spike_limit_mib = 4095' })}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\ngrpc = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    const token = readFileSync(otlp?.tokenFile as string, 'utf8').trim();
    const body = ProtobufTraceSerializer.serializeRequest(await sdkSpans('codex_exec')) as Uint8Array;
    const busy = await fetch(`http://${otlp?.http}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-protobuf' }, body });
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toBe('1');

    const client = new Client(otlp?.grpc as string, credentials.createInsecure());
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const error = await new Promise<ServiceError | null>((resolve) =>
      client.makeUnaryRequest('/opentelemetry.proto.collector.trace.v1.TraceService/Export', (bytes: Buffer) => bytes, (bytes: Buffer) => bytes, Buffer.from(body), metadata, (problem) => resolve(problem)),
    );
    client.close();
    expect(error?.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    // What codexd's own OTLP/gRPC exporter reads from a collector: a RetryInfo of 1 s.
    expect(retryInfoDelayMs(error?.metadata.get('grpc-status-details-bin')[0] as Uint8Array)).toBe(1000);
    expect((await daemon.status()).signals.traces.received).toBe(0);
  }, 40_000);

  it('refuses an address that is not host:port, naming the key', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    home.writeConfig('[codexd.otlp_receiver]\nhttp = "localhost"\n');
    const result = await runCli(home, ['config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('codexd.otlp_receiver.http: expected an address to listen on, "host:port"');
  });
});

describe('OTLP decoding', () => {
  const harness = useHarness();
  it('decodes what the SDK serialises, and refuses every truncation of it with a ProtobufError, never another error', async () => {
    const spans = await sdkSpans('codex_exec');
    const bytes = ProtobufTraceSerializer.serializeRequest(spans) as Uint8Array;
    const whole = decodeTraceRequest(bytes);
    expect(whole.rejected).toBe(0);
    expect(whole.resources[0]?.scopes[0]?.items.map((span) => span.name).sort()).toEqual(['exec', 'thread/items/list', 'turn/start']);
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decodeTraceRequest(bytes.subarray(0, cut));
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(ProtobufError);
      }
    }
  });

  it('decodes the SDK\'s log records, and refuses every truncation with a ProtobufError', async () => {
    const bytes = ProtobufLogsSerializer.serializeRequest(await sdkLogRecords()) as Uint8Array;
    const whole = decodeLogsRequest(bytes);
    expect(whole.rejected).toBe(0);
    expect(whole.resources[0]?.scopes[0]?.items.map((record) => record.eventName)).toEqual(['codex.user_prompt', 'codex.tool_result']);
    expect(whole.resources[0]?.scopes[0]?.items[0]).toMatchObject({ severityNumber: 9, severityText: 'INFO', body: 'codex.user_prompt', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 });
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decodeLogsRequest(bytes.subarray(0, cut));
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(ProtobufError);
      }
    }
  });
});
