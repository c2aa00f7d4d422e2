/**
 * OTLP JSON export requests for the lanes' log records and spans, written straight to text: the
 * same bytes as `JsonLogsSerializer` and `JsonTraceSerializer` of @opentelemetry/otlp-transformer
 * (0.301), which first build the whole request as objects (a few per attribute) and then
 * stringify it. The file exporter serialises every event this way, so that garbage was a large
 * part of what an event cost; this writes each value once, and each resource once per resource.
 *
 * The order of keys, the values left out when undefined and the encodings (timestamps as decimal
 * strings of nanoseconds, ids in hex, bytes in base64) follow the SDK's; test/otlp-json.test.ts
 * compares the two byte for byte.
 */
import type { HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

import { type ByteBuffer, createByteBuffer } from './byte-buffer.js';

/** Strings JSON.stringify would escape, or that are not plain ASCII: written through JSON.stringify. */
const NEEDS_QUOTING = /["\\\u0000-\u001f\u007f-\uffff]/;

/** One batch is written here, then copied out at its exact size. */
const out: ByteBuffer = createByteBuffer(1024 * 1024, 4 * 1024 * 1024);

/** Text known to be ASCII (keys of the format, digits). */
function raw(text: string): void {
  out.write(text, 'latin1');
}

/** A JSON string, as JSON.stringify writes it. */
function quoted(text: string): void {
  if (NEEDS_QUOTING.test(text)) {
    out.write(JSON.stringify(text), 'utf8');
    return;
  }
  out.byte(0x22);
  out.write(text, 'latin1');
  out.byte(0x22);
}

/** A number as JSON.stringify writes it (NaN and the infinities as null). */
function number(value: number): void {
  raw(Number.isFinite(value) ? String(value) : 'null');
}

/** Nanoseconds since the epoch as a decimal string, as the SDK's `encodeAsString`. */
function nanos(time: HrTime): void {
  const [seconds, fraction] = time;
  if (Number.isInteger(seconds) && Number.isInteger(fraction) && seconds > 0 && fraction >= 0 && fraction < 1e9) {
    raw(`"${seconds}${String(fraction).padStart(9, '0')}"`);
    return;
  }
  raw(`"${(BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(fraction))).toString()}"`);
}

/** An `AnyValue`, as the SDK's `toAnyValue` makes it and `JSON.stringify` writes it. */
function anyValue(value: unknown): void {
  switch (typeof value) {
    case 'string':
      raw('{"stringValue":');
      quoted(value);
      raw('}');
      return;
    case 'number':
      raw(Number.isInteger(value) ? '{"intValue":' : '{"doubleValue":');
      number(value);
      raw('}');
      return;
    case 'boolean':
      raw(value ? '{"boolValue":true}' : '{"boolValue":false}');
      return;
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    raw(`{"bytesValue":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`);
  } else if (Array.isArray(value)) {
    raw('{"arrayValue":{"values":[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) raw(',');
      anyValue(value[i]);
    }
    raw(']}}');
  } else if (typeof value === 'object' && value !== null) {
    raw('{"kvlistValue":{"values":');
    attributes(value as Record<string, unknown>);
    raw('}}');
  } else raw('{}');
}

/** `[{"key":…,"value":…},…]`, in `Object.keys` order, as the SDK's `toAttributes`. */
function attributes(values: Readonly<Record<string, unknown>>): void {
  raw('[');
  let first = true;
  for (const key of Object.keys(values)) {
    raw(first ? '{"key":' : ',{"key":');
    first = false;
    quoted(key);
    raw(',"value":');
    anyValue(values[key]);
    raw('}');
  }
  raw(']');
}

/** `,"name":value` for a value the SDK's object may hold as undefined (JSON.stringify leaves those out). */
function optional(name: string, value: string | number | undefined): void {
  if (value === undefined) return;
  raw(`,"${name}":`);
  if (typeof value === 'string') quoted(value);
  else number(value);
}

/** What is written from `start` on, taken out as a string (for the caches below), and rewound. */
function takeText(start: number): string {
  const text = out.view(start).toString('utf8');
  out.truncate(start);
  return text;
}

/** A resource as the SDK's `createResource`, cached per resource (they live as long as their host). */
const resources = new WeakMap<Resource, { readonly text: string; readonly schemaUrl: string | undefined }>();

function resourceOf(resource: Resource): { readonly text: string; readonly schemaUrl: string | undefined } {
  const cached = resources.get(resource);
  if (cached !== undefined) return cached;
  const schemaUrl = resource.schemaUrl !== undefined && resource.schemaUrl !== '' ? resource.schemaUrl : undefined;
  const start = out.length;
  raw('{"attributes":');
  attributes(resource.attributes);
  raw(',"droppedAttributesCount":0');
  optional('schemaUrl', schemaUrl);
  raw('}');
  const made = { text: takeText(start), schemaUrl };
  // A resource still waiting for attributes a detector finds later is written afresh each time.
  if (resource.asyncAttributesPending !== true) resources.set(resource, made);
  return made;
}

/** An instrumentation scope as the SDK's `createInstrumentationScope`. */
function scopeOf(scope: InstrumentationScope & { readonly attributes?: Record<string, unknown>; readonly droppedAttributesCount?: number }): void {
  raw('{"name":');
  quoted(scope.name);
  optional('version', scope.version);
  if (scope.attributes !== undefined && Object.keys(scope.attributes).length > 0) {
    raw(',"attributes":');
    attributes(scope.attributes);
    raw(',"droppedAttributesCount":');
    number(scope.droppedAttributesCount ?? 0);
  }
  raw('}');
}

/** Items grouped by resource, then by `scopeKey`, each group in the order its first item came. */
function group<T extends { readonly resource: Resource; readonly instrumentationScope: InstrumentationScope }>(items: readonly T[], scopeKey: (item: T) => unknown): Map<Resource, Map<unknown, T[]>> {
  const byResource = new Map<Resource, Map<unknown, T[]>>();
  for (const item of items) {
    let byScope = byResource.get(item.resource);
    if (byScope === undefined) byResource.set(item.resource, (byScope = new Map()));
    const key = scopeKey(item);
    const list = byScope.get(key);
    if (list === undefined) byScope.set(key, [item]);
    else list.push(item);
  }
  return byResource;
}

/**
 * `{"resource…":[{"resource":…,"scope…":[{"scope":…,"<records>":[…]}]}]}` with each record
 * written by `write`; the schema URLs as the SDK places them. Returns a copy of exactly the
 * bytes written.
 */
function request<T extends { readonly resource: Resource; readonly instrumentationScope: InstrumentationScope }>(
  names: { readonly resources: string; readonly scopes: string; readonly records: string },
  grouped: Map<Resource, Map<unknown, T[]>>,
  write: (item: T) => void,
): Uint8Array {
  out.reset();
  raw(`{"${names.resources}":[`);
  let firstResource = true;
  for (const [resource, byScope] of grouped) {
    const { text, schemaUrl } = resourceOf(resource);
    raw(firstResource ? '{"resource":' : ',{"resource":');
    firstResource = false;
    out.write(text, 'utf8');
    raw(`,"${names.scopes}":[`);
    let firstScope = true;
    for (const items of byScope.values()) {
      const scope = (items[0] as T).instrumentationScope;
      raw(firstScope ? '{"scope":' : ',{"scope":');
      firstScope = false;
      scopeOf(scope);
      raw(`,"${names.records}":[`);
      for (let i = 0; i < items.length; i++) {
        if (i > 0) raw(',');
        write(items[i] as T);
      }
      raw(']');
      optional('schemaUrl', scope.schemaUrl);
      raw('}');
    }
    raw(']');
    optional('schemaUrl', schemaUrl);
    raw('}');
  }
  raw(']}');
  const bytes = Buffer.from(out.view());
  out.reset();
  return bytes;
}

function logRecord(log: ReadableLogRecord): void {
  const context = log.spanContext;
  raw('{"timeUnixNano":');
  nanos(log.hrTime);
  raw(',"observedTimeUnixNano":');
  nanos(log.hrTimeObserved);
  optional('severityNumber', log.severityNumber);
  optional('severityText', log.severityText);
  raw(',"body":');
  anyValue(log.body);
  optional('eventName', log.eventName);
  raw(',"attributes":');
  attributes(log.attributes);
  optional('droppedAttributesCount', log.droppedAttributesCount);
  optional('flags', context?.traceFlags);
  optional('traceId', context?.traceId);
  optional('spanId', context?.spanId);
  raw('}');
}

/** The OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (and is). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote === true ? 512 : 0);
}

function span(item: ReadableSpan): void {
  const context = item.spanContext();
  const parentSpanId = item.parentSpanContext?.spanId;
  raw('{"traceId":');
  quoted(context.traceId);
  raw(',"spanId":');
  quoted(context.spanId);
  optional('parentSpanId', parentSpanId === '' ? undefined : parentSpanId);
  optional('traceState', context.traceState?.serialize());
  raw(',"name":');
  quoted(item.name);
  raw(',"kind":');
  number(item.kind === undefined || item.kind === null ? 0 : item.kind + 1);
  raw(',"startTimeUnixNano":');
  nanos(item.startTime);
  raw(',"endTimeUnixNano":');
  nanos(item.endTime);
  raw(',"attributes":');
  attributes(item.attributes);
  optional('droppedAttributesCount', item.droppedAttributesCount);
  raw(',"events":[');
  for (let i = 0; i < item.events.length; i++) {
    const event = item.events[i] as ReadableSpan['events'][number];
    raw(i === 0 ? '{"attributes":' : ',{"attributes":');
    attributes(event.attributes ?? {});
    raw(',"name":');
    quoted(event.name);
    raw(',"timeUnixNano":');
    nanos(event.time);
    raw(',"droppedAttributesCount":');
    number(event.droppedAttributesCount || 0);
    raw('}');
  }
  raw(']');
  optional('droppedEventsCount', item.droppedEventsCount);
  raw(',"status":{"code":');
  number(item.status.code);
  optional('message', item.status.message);
  raw('},"links":[');
  for (let i = 0; i < item.links.length; i++) {
    const link = item.links[i] as ReadableSpan['links'][number];
    raw(i === 0 ? '{"attributes":' : ',{"attributes":');
    attributes(link.attributes ?? {});
    raw(',"spanId":');
    quoted(link.context.spanId);
    raw(',"traceId":');
    quoted(link.context.traceId);
    optional('traceState', link.context.traceState?.serialize());
    raw(',"droppedAttributesCount":');
    number(link.droppedAttributesCount || 0);
    raw(',"flags":');
    number(spanFlags(link.context.traceFlags, link.context.isRemote));
    raw('}');
  }
  raw(']');
  optional('droppedLinksCount', item.droppedLinksCount);
  raw(',"flags":');
  number(spanFlags(context.traceFlags, item.parentSpanContext?.isRemote));
  raw('}');
}

/** Both serialisers below run to completion without yielding: the shared buffer is never written by two at once. */

/** An OTLP JSON `ExportLogsServiceRequest`, byte for byte as `JsonLogsSerializer.serializeRequest`. */
export function serializeLogsJson(logs: readonly ReadableLogRecord[]): Uint8Array {
  // The SDK groups log records by the scope object, spans by its name, version and schema URL.
  return request({ resources: 'resourceLogs', scopes: 'scopeLogs', records: 'logRecords' }, group(logs, (log) => log.instrumentationScope), logRecord);
}

/** An OTLP JSON `ExportTraceServiceRequest`, byte for byte as `JsonTraceSerializer.serializeRequest`. */
export function serializeSpansJson(spans: readonly ReadableSpan[]): Uint8Array {
  return request({ resources: 'resourceSpans', scopes: 'scopeSpans', records: 'spans' }, group(spans, ({ instrumentationScope: scope }) => `${scope.name}@${scope.version || ''}:${scope.schemaUrl || ''}`), span);
}
