/**
 * OTLP JSON export requests for the lanes' log records and spans, written straight from the
 * lanes' plain records into bytes (json-wire.ts): the same bytes as `JsonLogsSerializer` and
 * `JsonTraceSerializer` of @opentelemetry/otlp-transformer (0.301) write for the same records as
 * SDK objects, without the SDK's records, the objects it builds before stringifying a request (a
 * few per attribute) or a string per record. The file exporter serialises every event this way;
 * attributes that repeat and each resource are written once and copied after that.
 *
 * The order of keys, the values left out when undefined and the encodings (timestamps as decimal
 * strings of nanoseconds, ids in hex, bytes in base64) follow the SDK's; test/otlp-serialisers.test.ts
 * compares the two byte for byte.
 */
import type { Resource } from '@opentelemetry/resources';

import { groupByResourceAndScope, type LaneItem, type LogEntry, type Scope, SCOPE, type SpanEntry, SPAN_KIND_NUMBERS, STATUS_CODE_NUMBERS, traceStateText } from '../lane-records.js';

import { anyValue, attributes, begin, copy, copyOut, digits, fragment, mark, nanos, num, optional, raw, rewind, takeRequest, text } from './json-wire.js';

/** A resource as the SDK's `createResource` (its schema URL within), and the `,"schemaUrl":…` the SDK writes again after its scopes (or nothing), per resource (they live as long as their host). */
type WrittenResource = { readonly head: Uint8Array; readonly tail: Uint8Array };
const resources = new WeakMap<Resource, WrittenResource>();

/** Written in the scratch past what is written, and copied out. */
function resourceOf(resource: Resource): WrittenResource {
  const cached = resources.get(resource);
  if (cached !== undefined) return cached;
  const start = mark();
  const schemaUrl = resource.schemaUrl !== undefined && resource.schemaUrl !== '' ? resource.schemaUrl : undefined;
  raw('{"attributes":');
  attributes(resource.attributes);
  copy(NONE_DROPPED);
  optional('schemaUrl', schemaUrl);
  raw('}');
  const head = copyOut(start);
  rewind(start);
  optional('schemaUrl', schemaUrl);
  const made = { head, tail: copyOut(start) };
  rewind(start);
  // A resource still waiting for attributes a detector finds later is written afresh each time.
  if (resource.asyncAttributesPending !== true) resources.set(resource, made);
  return made;
}

/** The records' own punctuation and names, encoded once (json-wire.ts, `fragment`). */
const LOG_TIME = fragment('{"timeUnixNano":');
const LOG_OBSERVED = fragment(',"observedTimeUnixNano":');
const LOG_SEVERITY = fragment(',"severityNumber":');
const ATTRIBUTES = fragment(',"attributes":');
const NONE_DROPPED = fragment(',"droppedAttributesCount":0');
const TRACE_ID = fragment(',"traceId":');
const SPAN_OPEN = fragment('{"traceId":');
const SPAN_ID = fragment(',"spanId":');
const SPAN_START = fragment(',"startTimeUnixNano":');
const SPAN_END = fragment(',"endTimeUnixNano":');
const SPAN_EVENTS = fragment(',"droppedAttributesCount":0,"events":[');
const SPAN_STATUS = fragment('],"droppedEventsCount":0,"status":{"code":');
const SPAN_LINKS = fragment('},"links":[');
const SPAN_FLAGS = fragment('],"droppedLinksCount":0,"flags":');

/** An instrumentation scope as the SDK's `createInstrumentationScope`. */
function scope({ name, version }: Scope): void {
  raw('{"name":');
  text(name);
  optional('version', version);
  raw('}');
}

/**
 * `{"resource…":[{"resource":…,"scope…":[{"scope":…,"<records>":[…]}]}]}` with each record
 * written by `write`; the schema URL as the SDK places it. Returns exactly the bytes written, to
 * keep.
 */
function request<E>(names: { readonly resources: string; readonly scopes: string; readonly records: string }, items: readonly LaneItem<E>[], scopeOfEntry: (entry: E) => Scope, write: (entry: E) => void): Uint8Array {
  begin();
  raw(`{"${names.resources}":[`);
  let firstResource = true;
  for (const [resource, byScope] of groupByResourceAndScope(items, scopeOfEntry)) {
    const { head, tail } = resourceOf(resource);
    raw(firstResource ? '{"resource":' : ',{"resource":');
    copy(head);
    raw(`,"${names.scopes}":[`);
    firstResource = false;
    let firstScope = true;
    for (const entries of byScope.values()) {
      raw(firstScope ? '{"scope":' : ',{"scope":');
      scope(scopeOfEntry(entries[0] as E));
      raw(`,"${names.records}":[`);
      firstScope = false;
      for (let i = 0; i < entries.length; i++) {
        if (i > 0) raw(',');
        write(entries[i] as E);
      }
      raw(']}');
    }
    raw(']');
    copy(tail);
    raw('}');
  }
  raw(']}');
  return takeRequest();
}

function logRecord(log: LogEntry): void {
  // A time of 0 is unknown: the SDK's record takes the observed time for it.
  copy(LOG_TIME);
  nanos(log.timeMs === 0 ? log.observedMs : log.timeMs);
  copy(LOG_OBSERVED);
  nanos(log.observedMs);
  copy(LOG_SEVERITY);
  num(log.severityNumber);
  optional('severityText', log.severityText);
  raw(',"body":');
  anyValue(log.body);
  optional('eventName', log.eventName);
  copy(ATTRIBUTES);
  attributes(log.attributes, log.lead);
  copy(NONE_DROPPED);
  if (log.traceId !== undefined && log.spanId !== undefined) {
    raw(',"flags":');
    num(log.flags ?? 0);
    copy(TRACE_ID);
    text(log.traceId);
    copy(SPAN_ID);
    text(log.spanId);
  }
  raw('}');
}

/** The OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (and is). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote === true ? 512 : 0);
}

function span(item: SpanEntry): void {
  copy(SPAN_OPEN);
  text(item.traceId);
  copy(SPAN_ID);
  text(item.spanId);
  optional('parentSpanId', item.parentSpanId === '' ? undefined : item.parentSpanId);
  optional('traceState', traceStateText(item.tracestate));
  raw(',"name":');
  text(item.name);
  raw(',"kind":');
  digits(SPAN_KIND_NUMBERS[item.kind]);
  copy(SPAN_START);
  nanos(item.startMs);
  copy(SPAN_END);
  nanos(item.endMs);
  copy(ATTRIBUTES);
  attributes(item.attributes, item.lead);
  copy(SPAN_EVENTS);
  for (let i = 0; i < item.events.length; i++) {
    const event = item.events[i] as SpanEntry['events'][number];
    raw(i === 0 ? '{"attributes":' : ',{"attributes":');
    attributes(event.attributes);
    raw(',"name":');
    text(event.name);
    raw(',"timeUnixNano":');
    nanos(event.time);
    raw(',"droppedAttributesCount":0}');
  }
  copy(SPAN_STATUS);
  digits(STATUS_CODE_NUMBERS[item.status.code]);
  optional('message', item.status.message);
  copy(SPAN_LINKS);
  for (let i = 0; i < item.links.length; i++) {
    const link = item.links[i] as SpanEntry['links'][number];
    raw(i === 0 ? '{"attributes":' : ',{"attributes":');
    attributes(link.attributes);
    copy(SPAN_ID);
    text(link.spanId);
    copy(TRACE_ID);
    text(link.traceId);
    optional('traceState', traceStateText(link.tracestate));
    raw(',"droppedAttributesCount":0,"flags":');
    digits(spanFlags(link.flags ?? 1, undefined));
    raw('}');
  }
  // A parent known to be local or remote: the SDK's span has a parent context only with a parent.
  copy(SPAN_FLAGS);
  digits(spanFlags(item.flags, item.parentSpanId === undefined ? undefined : item.parentRemote === true));
  raw('}');
}

/** Both serialisers below run to completion without yielding: the scratch is never written by two at once. */

/** An OTLP JSON `ExportLogsServiceRequest`, byte for byte as `JsonLogsSerializer.serializeRequest` writes the same records. */
export function serializeLogsJson(items: readonly LaneItem<LogEntry>[]): Uint8Array {
  return request({ resources: 'resourceLogs', scopes: 'scopeLogs', records: 'logRecords' }, items, (log) => log.scope, logRecord);
}

/** An OTLP JSON `ExportTraceServiceRequest`, byte for byte as `JsonTraceSerializer.serializeRequest` writes the same spans. */
export function serializeSpansJson(items: readonly LaneItem<SpanEntry>[]): Uint8Array {
  return request({ resources: 'resourceSpans', scopes: 'scopeSpans', records: 'spans' }, items, (span) => span.scope ?? SCOPE, span);
}
