/**
 * OTLP JSON export requests for the lanes' log records and spans, written straight from the
 * lanes' plain records to text: the same bytes as `JsonLogsSerializer` and `JsonTraceSerializer`
 * of @opentelemetry/otlp-transformer (0.301) write for the same records as SDK objects, without
 * the SDK's records or the objects it builds before stringifying a request (a few per
 * attribute). The file exporter serialises every event this way; this writes each value once,
 * and each resource once per resource.
 *
 * The order of keys, the values left out when undefined and the encodings (timestamps as decimal
 * strings of nanoseconds, ids in hex, bytes in base64) follow the SDK's; test/otlp-json.test.ts
 * compares the two byte for byte.
 */
import type { Resource } from '@opentelemetry/resources';

import { groupByResourceAndScope, hrTimeOf, type LaneItem, type LogEntry, type Scope, SCOPE, type SpanEntry, SPAN_KIND_NUMBERS, STATUS_CODE_NUMBERS, traceStateText } from '../lane-records.js';

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

/** Epoch milliseconds as nanoseconds in a decimal string, as the SDK's `encodeAsString` writes the time it holds. */
function nanos(ms: number): string {
  const [seconds, fraction] = hrTimeOf(ms);
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
function scopeOf(scope: Scope): string {
  return `{"name":${quoted(scope.name)}${optional('version', scope.version)}}`;
}

/**
 * `{"resource…":[{"resource":…,"scope…":[{"scope":…,"<records>":[…]}]}]}` with each record
 * written by `write`; the schema URL as the SDK places it. Each record's text goes into the
 * buffer as soon as it is made (it is garbage at once, no rope of the whole batch is built);
 * returns a copy of exactly the bytes written.
 */
function request<E>(names: { readonly resources: string; readonly scopes: string; readonly records: string }, items: readonly LaneItem<E>[], scopeOfEntry: (entry: E) => Scope, write: (entry: E) => string): Uint8Array {
  out.reset();
  out.write(`{"${names.resources}":[`, 'latin1');
  let firstResource = true;
  for (const [resource, byScope] of groupByResourceAndScope(items, scopeOfEntry)) {
    const { text, schemaUrl } = resourceOf(resource);
    out.write(`${firstResource ? '' : ','}{"resource":${text},"${names.scopes}":[`, 'utf8');
    firstResource = false;
    let firstScope = true;
    for (const entries of byScope.values()) {
      out.write(`${firstScope ? '' : ','}{"scope":${scopeOf(scopeOfEntry(entries[0] as E))},"${names.records}":[`, 'utf8');
      firstScope = false;
      for (let i = 0; i < entries.length; i++) out.write(i === 0 ? write(entries[i] as E) : `,${write(entries[i] as E)}`, 'utf8');
      out.write(']}', 'latin1');
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

function logRecord(log: LogEntry): string {
  // A time of 0 is unknown: the SDK's record takes the observed time for it.
  const traced = log.traceId !== undefined && log.spanId !== undefined;
  return (
    `{"timeUnixNano":${nanos(log.timeMs === 0 ? log.observedMs : log.timeMs)},"observedTimeUnixNano":${nanos(log.observedMs)},"severityNumber":${number(log.severityNumber)}${optional('severityText', log.severityText)}` +
    `,"body":${anyValue(log.body)}${optional('eventName', log.eventName)},"attributes":${attributes(log.attributes)},"droppedAttributesCount":0` +
    (traced ? `,"flags":${number(log.flags ?? 0)},"traceId":${quoted(log.traceId as string)},"spanId":${quoted(log.spanId as string)}}` : '}')
  );
}

/** The OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (and is). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote === true ? 512 : 0);
}

function span(item: SpanEntry): string {
  let text =
    `{"traceId":${quoted(item.traceId)},"spanId":${quoted(item.spanId)}${optional('parentSpanId', item.parentSpanId === '' ? undefined : item.parentSpanId)}${optional('traceState', traceStateText(item.tracestate))}` +
    `,"name":${quoted(item.name)},"kind":${SPAN_KIND_NUMBERS[item.kind]},"startTimeUnixNano":${nanos(item.startMs)},"endTimeUnixNano":${nanos(item.endMs)}` +
    `,"attributes":${attributes(item.attributes)},"droppedAttributesCount":0,"events":[`;
  for (let i = 0; i < item.events.length; i++) {
    const event = item.events[i] as SpanEntry['events'][number];
    text += `${i === 0 ? '' : ','}{"attributes":${attributes(event.attributes)},"name":${quoted(event.name)},"timeUnixNano":${nanos(event.time)},"droppedAttributesCount":0}`;
  }
  text += `],"droppedEventsCount":0,"status":{"code":${STATUS_CODE_NUMBERS[item.status.code]}${optional('message', item.status.message)}},"links":[`;
  for (let i = 0; i < item.links.length; i++) {
    const link = item.links[i] as SpanEntry['links'][number];
    text +=
      `${i === 0 ? '' : ','}{"attributes":${attributes(link.attributes)},"spanId":${quoted(link.spanId)},"traceId":${quoted(link.traceId)}` +
      `${optional('traceState', traceStateText(link.tracestate))},"droppedAttributesCount":0,"flags":${spanFlags(link.flags ?? 1, undefined)}}`;
  }
  // A parent known to be local or remote: the SDK's span has a parent context only with a parent.
  return `${text}],"droppedLinksCount":0,"flags":${spanFlags(item.flags, item.parentSpanId === undefined ? undefined : item.parentRemote === true)}}`;
}

/** Both serialisers below run to completion without yielding: the shared buffer is never written by two at once. */

/** An OTLP JSON `ExportLogsServiceRequest`, byte for byte as `JsonLogsSerializer.serializeRequest` writes the same records. */
export function serializeLogsJson(items: readonly LaneItem<LogEntry>[]): Uint8Array {
  return request({ resources: 'resourceLogs', scopes: 'scopeLogs', records: 'logRecords' }, items, (log) => log.scope, logRecord);
}

/** An OTLP JSON `ExportTraceServiceRequest`, byte for byte as `JsonTraceSerializer.serializeRequest` writes the same spans. */
export function serializeSpansJson(items: readonly LaneItem<SpanEntry>[]): Uint8Array {
  return request({ resources: 'resourceSpans', scopes: 'scopeSpans', records: 'spans' }, items, (span) => span.scope ?? SCOPE, span);
}
