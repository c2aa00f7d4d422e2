/**
 * The lanes' OTLP serialisers (delivery/otlp-json.ts, delivery/otlp-protobuf.ts) write the same
 * bytes as the SDK's serialisers of @opentelemetry/otlp-transformer write for the same records
 * as SDK objects, from their caches as from scratch.
 */
import { JsonLogsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';

import { serializeLogsJson, serializeSpansJson } from '../daemon/delivery/otlp-json.js';
import { serializeLogsProtobuf, serializeSpansProtobuf } from '../daemon/delivery/otlp-protobuf.js';
import type { LaneItem, LogEntry, SpanEntry } from '../daemon/lane-records.js';
import { eventBatch, sampleLogs, sampleSpans } from './support/otlp-records.js';
import { readableLogRecord, readableSpan } from './support/readable-records.js';

interface Format {
  readonly name: string;
  readonly logs: (items: LaneItem<LogEntry>[]) => Uint8Array;
  readonly spans: (items: LaneItem<SpanEntry>[]) => Uint8Array;
  readonly sdkLogs: (items: LaneItem<LogEntry>[]) => Uint8Array;
  readonly sdkSpans: (items: LaneItem<SpanEntry>[]) => Uint8Array;
}

const FORMATS: Format[] = [
  {
    name: 'JSON',
    logs: serializeLogsJson,
    spans: serializeSpansJson,
    sdkLogs: (items) => JsonLogsSerializer.serializeRequest(items.map(readableLogRecord)) as Uint8Array,
    sdkSpans: (items) => JsonTraceSerializer.serializeRequest(items.map(readableSpan)) as Uint8Array,
  },
  {
    name: 'protobuf',
    logs: serializeLogsProtobuf,
    spans: serializeSpansProtobuf,
    sdkLogs: (items) => ProtobufLogsSerializer.serializeRequest(items.map(readableLogRecord)) as Uint8Array,
    sdkSpans: (items) => ProtobufTraceSerializer.serializeRequest(items.map(readableSpan)) as Uint8Array,
  },
];

const hex = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

describe.each(FORMATS)('OTLP $name for the lanes', (format) => {
  it('writes log records byte for byte as the SDK serialiser, grouped by resource and scope', () => {
    const logs = sampleLogs();
    expect(hex(format.logs(logs))).toBe(hex(format.sdkLogs(logs)));
    // Twice, now from the caches.
    expect(hex(format.logs(logs))).toBe(hex(format.sdkLogs(logs)));
  });

  it('writes spans byte for byte as the SDK serialiser: parents, trace state, kinds, status, events, links', () => {
    const spans = sampleSpans();
    expect(hex(format.spans(spans))).toBe(hex(format.sdkSpans(spans)));
    expect(hex(format.spans(spans))).toBe(hex(format.sdkSpans(spans)));
  });

  it('writes an empty batch as the SDK does', () => {
    expect(hex(format.spans([]))).toBe(hex(format.sdkSpans([])));
    expect(hex(format.logs([]))).toBe(hex(format.sdkLogs([])));
  });

  it('writes a large batch of event-like records alike, again and again, past the bounds of its caches', () => {
    const { spans, logs } = eventBatch();
    const spanBytes = hex(format.spans(spans));
    const logBytes = hex(format.logs(logs));
    expect(spanBytes).toBe(hex(format.sdkSpans(spans)));
    expect(logBytes).toBe(hex(format.sdkLogs(logs)));
    expect(hex(format.spans(spans))).toBe(spanBytes);
    expect(hex(format.logs(logs))).toBe(logBytes);
    // A smaller batch after a larger one: nothing left over from the scratch.
    expect(hex(format.logs(logs.slice(0, 3)))).toBe(hex(format.sdkLogs(logs.slice(0, 3))));
  });
});

describe('OTLP JSON for the lanes', () => {
  it('puts a host\'s records of one scope in one ScopeLogs, whatever objects their scopes are', () => {
    const json = JSON.parse(Buffer.from(serializeLogsJson(sampleLogs())).toString('utf8')) as { resourceLogs: { scopeLogs: { scope: { name: string; version?: string }; logRecords: unknown[] }[] }[] };
    expect(json.resourceLogs).toHaveLength(3);
    expect(json.resourceLogs[0]?.scopeLogs.map((scope) => [scope.scope.name, scope.scope.version, scope.logRecords.length])).toEqual([
      ['codex', undefined, 2],
      ['codex_otel', '1.2.3', 2],
    ]);
  });
});
