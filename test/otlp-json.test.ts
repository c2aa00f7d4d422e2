import { JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { describe, expect, it } from 'vitest';

import { serializeLogsJson, serializeSpansJson } from '../daemon/delivery/otlp-json.js';
import { readableHostLogRecord, readableLogRecord, readableSpan, type SpanEntry } from '../daemon/lane-records.js';

const hostA = resourceFromAttributes({ 'service.name': 'codex_exec', 'service.version': '0.169.0', 'host.name': 'box "one"', 'telemetry.sdk.language': 'nodejs' });
const hostB = resourceFromAttributes({ 'service.name': 'codex-tui', 'process.pid': 4242, weird: 'line\nbreak \u2028 \ud800 lone' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.28.0' });

/** Attribute values of every kind the lanes may hold, odd numbers and strings included. */
const attributes = {
  'conversation.id': '0199a7c2-5f0e-7d31-9a4b-2f6c1e8d3b07',
  model: 'gpt-5.1-codex',
  '1': 'an integer-like key goes first',
  quote: 'say "hi" \\ back\t',
  emoji: 'é — 😀',
  int: 42,
  negative: -7,
  zero: -0,
  big: 1e21,
  double: 0.25,
  nan: Number.NaN,
  infinite: Number.POSITIVE_INFINITY,
  yes: true,
  no: false,
  strings: ['a', 'b'],
  numbers: [1, 2.5],
  mixed: [true, null, 'x'],
  empty: [],
  nothing: undefined,
};

function span(overrides: Partial<SpanEntry>): SpanEntry {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'codex.tool_result',
    kind: 'internal',
    startMs: 1_733_400_000_123.456,
    endMs: 1_733_400_001_000,
    status: { code: 'unset' },
    attributes,
    events: [],
    links: [],
    flags: 1,
    ...overrides,
  };
}

const decode = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

describe('OTLP JSON for the lanes (otlp-json.ts)', () => {
  it('writes log records byte for byte as the SDK serialiser, grouped by resource and scope', () => {
    const context = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    const logs: ReadableLogRecord[] = [
      readableLogRecord('codex.sse_event', 1_733_400_000_123.5, attributes, context, hostA),
      readableLogRecord('codex.api_request', 1_733_400_000_999, { small: 1 }, undefined, hostB),
      readableLogRecord('codex.tool_result', 5, {}, context, hostA),
      readableHostLogRecord({ timeMs: 0, observedMs: 1_733_400_000_001, severityNumber: 17, severityText: 'ERROR', body: { nested: ['x', 1] }, attributes, scope: { name: 'codex_otel', version: '1.2.3' } }, hostA),
      readableHostLogRecord({ timeMs: 1_733_400_000_000, observedMs: 1_733_400_000_001, severityNumber: 0, attributes: {}, traceId: context.traceId, spanId: context.spanId, flags: 0, scope: { name: 'codex_otel' } }, hostB),
      readableHostLogRecord({ timeMs: -1500, observedMs: 1, severityNumber: 9, body: new Uint8Array([1, 2, 255]) as unknown as string, eventName: 'e', attributes: { bytes: 'x' }, scope: { name: 'codex_otel', version: '1.2.3' } }, hostA),
    ];
    const json = decode(serializeLogsJson(logs));
    expect(json).toBe(decode(JsonLogsSerializer.serializeRequest(logs) as Uint8Array));
    expect((JSON.parse(json) as { resourceLogs: unknown[] }).resourceLogs).toHaveLength(2);
    expect(decode(serializeLogsJson([]))).toBe(decode(JsonLogsSerializer.serializeRequest([]) as Uint8Array));
  });

  it('writes spans byte for byte as the SDK serialiser: parents, trace state, events, links, status', () => {
    const spans = [
      readableSpan(span({}), hostA),
      readableSpan(span({ parentSpanId: '00f067aa0ba902b7', parentRemote: true, tracestate: 'vendor=a,other=b', kind: 'client', status: { code: 'error', message: 'boom "quoted"' } }), hostA),
      readableSpan(span({ parentSpanId: '00f067aa0ba902b7', kind: 'server', status: { code: 'ok' }, scope: { name: 'codex_otel', version: '2' } }), hostB),
      readableSpan(
        span({
          events: [
            { name: 'first', time: 1_733_400_000_500, attributes: { n: 1 } },
            { name: 'second', time: 1_733_400_000_600, attributes: {} },
          ],
          links: [
            { traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', attributes: { why: 'retry' } },
            { traceId: '2af7651916cd43dd8448eb211c80319c', spanId: 'd7ad6b7169203331', tracestate: 'k=v', flags: 0, attributes: {} },
          ],
          scope: { name: 'codex_otel', version: '2' },
        }),
        hostB,
      ),
      readableSpan(span({ flags: 3 }), hostA),
    ];
    const json = decode(serializeSpansJson(spans));
    expect(json).toBe(decode(JsonTraceSerializer.serializeRequest(spans) as Uint8Array));
    expect((JSON.parse(json) as { resourceSpans: unknown[] }).resourceSpans).toHaveLength(2);
  });
});
