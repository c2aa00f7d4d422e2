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

/** One batch is written here, one record at a time, then copied out at its exact size. */
const out: ByteBuffer = createByteBuffer(1024 * 1024, 4 * 1024 * 1024);

/** A JSON string, as JSON.stringify writes it; most need no escaping and are taken as they are. */
function quoted(text: string): string {
  return NEEDS_QUOTING.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** A number as JSON.stringify writes it (NaN and the infinities as null). */
function number(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** Nanoseconds since the epoch as a decimal string, as the SDK's `encodeAsString`. */
function nanos(time: HrTime): string {
  const [seconds, fraction] = time;
  if (Number.isInteger(seconds) && Number.isInteger(fraction) && seconds > 0 && fraction >= 0 && fraction < 1e9) return `"${seconds}${String(fraction).padStart(9, '0')}"`;
  return `"${(BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(fraction))).toString()}"`;
}

/** An `AnyValue`, as the SDK's `toAnyValue` makes it and `JSON.stringify` writes it. */
function anyValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `{"stringValue":${quoted(value)}}`;
    case 'number':
      return Number.isInteger(value) ? `{"intValue":${number(value)}}` : `{"doubleValue":${number(value)}}`;
    case 'boolean':
      return value ? '{"boolValue":true}' : '{"boolValue":false}';
    default:
      break;
  }
  if (value instanceof Uint8Array) return `{"bytesValue":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`;
  if (Array.isArray(value)) {
    let text = '{"arrayValue":{"values":[';
    for (let i = 0; i < value.length; i++) text += (i === 0 ? '' : ',') + anyValue(value[i]);
    return `${text}]}}`;
  }
  if (typeof value === 'object' && value !== null) return `{"kvlistValue":{"values":${attributes(value as Record<string, unknown>)}}}`;
  return '{}';
}

/**
 * Written attributes, by key, then by value: most of an event's attributes (its session's
 * context, its name, its client) repeat from event to event, and are written once. Values of a
 * key that takes many (ids, timestamps) are not kept beyond the first {@link VALUES_PER_KEY}; at
 * most {@link KEYS_KEPT} keys are, then the cache starts again.
 */
const written = new Map<string, { readonly prefix: string; readonly byValue: Map<string | boolean, string> }>();
const VALUES_PER_KEY = 32;
const KEYS_KEPT = 256;
/** Longest string value kept. */
const VALUE_CHARS_KEPT = 256;

/** `{"key":…,"value":…}` */
function keyValue(key: string, value: unknown): string {
  let known = written.get(key);
  if (known === undefined) {
    if (written.size >= KEYS_KEPT) written.clear();
    known = { prefix: `{"key":${quoted(key)},"value":`, byValue: new Map() };
    written.set(key, known);
  }
  if ((typeof value === 'string' && value.length <= VALUE_CHARS_KEPT) || typeof value === 'boolean') {
    const text = known.byValue.get(value);
    if (text !== undefined) return text;
    const made = `${known.prefix}${anyValue(value)}}`;
    if (known.byValue.size < VALUES_PER_KEY) known.byValue.set(value, made);
    return made;
  }
  return `${known.prefix}${anyValue(value)}}`;
}

/** `[{"key":…,"value":…},…]`, in `Object.keys` order, as the SDK's `toAttributes`. */
function attributes(values: Readonly<Record<string, unknown>>): string {
  let text = '[';
  let first = true;
  for (const key of Object.keys(values)) {
    text += first ? keyValue(key, values[key]) : `,${keyValue(key, values[key])}`;
    first = false;
  }
  return `${text}]`;
}

/** `,"name":value` for a value the SDK's object may hold as undefined (JSON.stringify leaves those out). */
function optional(name: string, value: string | number | undefined): string {
  if (value === undefined) return '';
  return `,"${name}":${typeof value === 'string' ? quoted(value) : number(value)}`;
}

/** A resource as the SDK's `createResource`, cached per resource (they live as long as their host). */
const resources = new WeakMap<Resource, { readonly text: string; readonly schemaUrl: string | undefined }>();

function resourceOf(resource: Resource): { readonly text: string; readonly schemaUrl: string | undefined } {
  const cached = resources.get(resource);
  if (cached !== undefined) return cached;
  const schemaUrl = resource.schemaUrl !== undefined && resource.schemaUrl !== '' ? resource.schemaUrl : undefined;
  const made = { text: `{"attributes":${attributes(resource.attributes)},"droppedAttributesCount":0${optional('schemaUrl', schemaUrl)}}`, schemaUrl };
  // A resource still waiting for attributes a detector finds later is written afresh each time.
  if (resource.asyncAttributesPending !== true) resources.set(resource, made);
  return made;
}

/** An instrumentation scope as the SDK's `createInstrumentationScope`. */
function scopeOf(scope: InstrumentationScope & { readonly attributes?: Record<string, unknown>; readonly droppedAttributesCount?: number }): string {
  let text = `{"name":${quoted(scope.name)}${optional('version', scope.version)}`;
  if (scope.attributes !== undefined && Object.keys(scope.attributes).length > 0) text += `,"attributes":${attributes(scope.attributes)},"droppedAttributesCount":${number(scope.droppedAttributesCount ?? 0)}`;
  return `${text}}`;
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
 * written by `write`; the schema URLs as the SDK places them. Each record's text goes into the
 * buffer as soon as it is made (it is garbage at once, no rope of the whole batch is built);
 * returns a copy of exactly the bytes written.
 */
function request<T extends { readonly resource: Resource; readonly instrumentationScope: InstrumentationScope }>(
  names: { readonly resources: string; readonly scopes: string; readonly records: string },
  grouped: Map<Resource, Map<unknown, T[]>>,
  write: (item: T) => string,
): Uint8Array {
  out.reset();
  out.write(`{"${names.resources}":[`, 'latin1');
  let firstResource = true;
  for (const [resource, byScope] of grouped) {
    const { text, schemaUrl } = resourceOf(resource);
    out.write(`${firstResource ? '' : ','}{"resource":${text},"${names.scopes}":[`, 'utf8');
    firstResource = false;
    let firstScope = true;
    for (const items of byScope.values()) {
      const scope = (items[0] as T).instrumentationScope;
      out.write(`${firstScope ? '' : ','}{"scope":${scopeOf(scope)},"${names.records}":[`, 'utf8');
      firstScope = false;
      for (let i = 0; i < items.length; i++) out.write(i === 0 ? write(items[i] as T) : `,${write(items[i] as T)}`, 'utf8');
      out.write(`]${optional('schemaUrl', scope.schemaUrl)}}`, 'utf8');
    }
    out.write(`]${optional('schemaUrl', schemaUrl)}}`, 'utf8');
  }
  out.write(']}', 'latin1');
  const view = out.view();
  const bytes = Buffer.allocUnsafe(view.length);
  view.copy(bytes);
  out.reset();
  return bytes;
}

function logRecord(log: ReadableLogRecord): string {
  const context = log.spanContext;
  return (
    `{"timeUnixNano":${nanos(log.hrTime)},"observedTimeUnixNano":${nanos(log.hrTimeObserved)}${optional('severityNumber', log.severityNumber)}${optional('severityText', log.severityText)}` +
    `,"body":${anyValue(log.body)}${optional('eventName', log.eventName)},"attributes":${attributes(log.attributes)}${optional('droppedAttributesCount', log.droppedAttributesCount)}` +
    `${optional('flags', context?.traceFlags)}${optional('traceId', context?.traceId)}${optional('spanId', context?.spanId)}}`
  );
}

/** The OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (and is). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote === true ? 512 : 0);
}

function span(item: ReadableSpan): string {
  const context = item.spanContext();
  const parentSpanId = item.parentSpanContext?.spanId;
  let text =
    `{"traceId":${quoted(context.traceId)},"spanId":${quoted(context.spanId)}${optional('parentSpanId', parentSpanId === '' ? undefined : parentSpanId)}${optional('traceState', context.traceState?.serialize())}` +
    `,"name":${quoted(item.name)},"kind":${item.kind === undefined || item.kind === null ? 0 : item.kind + 1},"startTimeUnixNano":${nanos(item.startTime)},"endTimeUnixNano":${nanos(item.endTime)}` +
    `,"attributes":${attributes(item.attributes)}${optional('droppedAttributesCount', item.droppedAttributesCount)},"events":[`;
  for (let i = 0; i < item.events.length; i++) {
    const event = item.events[i] as ReadableSpan['events'][number];
    text += `${i === 0 ? '' : ','}{"attributes":${attributes(event.attributes ?? {})},"name":${quoted(event.name)},"timeUnixNano":${nanos(event.time)},"droppedAttributesCount":${number(event.droppedAttributesCount || 0)}}`;
  }
  text += `]${optional('droppedEventsCount', item.droppedEventsCount)},"status":{"code":${number(item.status.code)}${optional('message', item.status.message)}},"links":[`;
  for (let i = 0; i < item.links.length; i++) {
    const link = item.links[i] as ReadableSpan['links'][number];
    text +=
      `${i === 0 ? '' : ','}{"attributes":${attributes(link.attributes ?? {})},"spanId":${quoted(link.context.spanId)},"traceId":${quoted(link.context.traceId)}` +
      `${optional('traceState', link.context.traceState?.serialize())},"droppedAttributesCount":${number(link.droppedAttributesCount || 0)},"flags":${spanFlags(link.context.traceFlags, link.context.isRemote)}}`;
  }
  return `${text}]${optional('droppedLinksCount', item.droppedLinksCount)},"flags":${spanFlags(context.traceFlags, item.parentSpanContext?.isRemote)}}`;
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
