/**
 * OTLP protobuf export requests for the lanes' log records and spans, written straight from the
 * lanes' plain records: the same bytes as `ProtobufLogsSerializer` and `ProtobufTraceSerializer`
 * of @opentelemetry/otlp-transformer (0.301) write for the same records as SDK objects. The SDK
 * walks a request twice (an estimate of its size, then the writing); this writes each record
 * once into a scratch buffer, computes the lengths of the groups around the records from theirs,
 * and copies the request out at its exact size. Attributes that repeat from event to event, and
 * each resource, are encoded once and copied after that.
 *
 * Which fields are left out when empty, the varints of negative numbers (ten bytes) and the
 * fixed64 of times follow the SDK's writer (protobuf-wire.ts); test/otlp-serialisers.test.ts
 * compares the two byte for byte. Field numbers are those of opentelemetry-proto's trace.proto,
 * logs.proto and common.proto; a tag byte is `field << 3 | wire type`, written as hex next to
 * the field it opens.
 */
import type { Resource } from '@opentelemetry/resources';

import { groupByResourceAndScope, type LaneItem, type LogEntry, type Scope, SCOPE, type SpanEntry, SPAN_KIND_NUMBERS, STATUS_CODE_NUMBERS, traceStateText } from '../lane-records.js';

import { requestMemory } from './byte-buffer.js';
import { anyValue, attributes, begin, byte, close, copyOut, end, fixed32, hexBytes, lengthAt, mark, open, rewind, string, time, uint, varintSize, view } from './protobuf-wire.js';

/** A Resource…'s `1 resource` (Resource `1 attributes`, `2 dropped_attributes_count`) and its `3 schema_url` if any, per resource (they live as long as their host). */
type EncodedResource = { readonly head: Uint8Array; readonly tail: Uint8Array };
const resources = new WeakMap<Resource, EncodedResource>();

/** Encoded in the scratch past what is written, and copied out. */
function resourceOf(resource: Resource): EncodedResource {
  const cached = resources.get(resource);
  if (cached !== undefined) return cached;
  const start = mark();
  const at = open(0x0a, 1);
  attributes(0x0a, resource.attributes);
  uint(0x10, 0);
  close(at, 1);
  const head = copyOut(start);
  rewind(start);
  if (resource.schemaUrl) string(0x1a, resource.schemaUrl);
  const made = { head, tail: copyOut(start) };
  rewind(start);
  // A resource still waiting for attributes a detector finds later is encoded afresh each time.
  if (resource.asyncAttributesPending !== true) resources.set(resource, made);
  return made;
}

/** `1 scope`: InstrumentationScope `1 name`, `2 version`. */
function scope({ name, version }: Scope): void {
  const at = open(0x0a, 1);
  string(0x0a, name);
  if (version) string(0x12, version);
  close(at, 1);
}

/** The OTLP span flags: the W3C trace flags, and whether the parent is known to be remote (and is). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 255) | 256 | (isRemote === true ? 512 : 0);
}

/** A LogRecord's fields, in the SDK's order (not the fields'): 1 time, 2 severity number, 3 severity text, 5 body, 6 attributes, 7 dropped attributes, 8 flags, 9 trace id, 10 span id, 11 observed time, 12 event name. */
function logRecord(log: LogEntry): void {
  // A time of 0 is unknown: the SDK's record takes the observed time for it.
  time(0x09, log.timeMs === 0 ? log.observedMs : log.timeMs);
  if (log.severityNumber !== undefined && log.severityNumber !== 0) uint(0x10, log.severityNumber);
  if (log.severityText) string(0x1a, log.severityText);
  if (log.body !== undefined) {
    const at = open(0x2a, 1);
    anyValue(log.body);
    close(at, 1);
  }
  attributes(0x32, log.attributes, log.lead);
  uint(0x38, 0);
  if (log.traceId !== undefined && log.spanId !== undefined) {
    if (log.flags) {
      byte(0x45);
      fixed32(log.flags);
    }
    if (log.traceId) hexBytes(0x4a, log.traceId);
    if (log.spanId) hexBytes(0x52, log.spanId);
  }
  time(0x59, log.observedMs);
  if (log.eventName) string(0x62, log.eventName);
}

/** A Span's fields: 1 trace id, 2 span id, 3 trace state, 4 parent span id, 5 name, 6 kind, 7 and 8 the times, 9 attributes, 10 dropped attributes, 11 events, 12 dropped events, 13 links, 14 dropped links, 15 status, 16 flags. */
function span(entry: SpanEntry): void {
  hexBytes(0x0a, entry.traceId);
  hexBytes(0x12, entry.spanId);
  const traceState = traceStateText(entry.tracestate);
  if (traceState) string(0x1a, traceState);
  if (entry.parentSpanId) hexBytes(0x22, entry.parentSpanId);
  string(0x2a, entry.name);
  // Not a kind the SDK knows: it leaves the field out.
  const kind = SPAN_KIND_NUMBERS[entry.kind] as number | undefined;
  if (kind !== undefined) uint(0x30, kind);
  time(0x39, entry.startMs);
  time(0x41, entry.endMs);
  attributes(0x4a, entry.attributes, entry.lead);
  uint(0x50, 0);
  for (const event of entry.events) {
    // Event: 1 time, 2 name, 3 attributes, 4 dropped attributes.
    const at = open(0x5a, 1);
    time(0x09, event.time);
    string(0x12, event.name);
    attributes(0x1a, event.attributes);
    uint(0x20, 0);
    close(at, 1);
  }
  uint(0x60, 0);
  for (const link of entry.links) {
    // Link: 1 trace id, 2 span id, 3 trace state, 4 attributes, 5 dropped attributes, 6 flags (never remote: a link's context does not say).
    const at = open(0x6a, 1);
    hexBytes(0x0a, link.traceId);
    hexBytes(0x12, link.spanId);
    const linkState = traceStateText(link.tracestate);
    if (linkState) string(0x1a, linkState);
    attributes(0x22, link.attributes);
    uint(0x28, 0);
    byte(0x35);
    fixed32(spanFlags(link.flags ?? 1, undefined));
    close(at, 1);
  }
  uint(0x70, 0);
  // Status: 2 message, 3 code (0 too).
  const at = open(0x7a, 1);
  if (entry.status.message) string(0x12, entry.status.message);
  uint(0x18, STATUS_CODE_NUMBERS[entry.status.code] ?? 0);
  close(at, 1);
  // Field 16 takes a two-byte tag. A parent known to be local or remote: the SDK's span has a parent context only with a parent.
  byte(0x85);
  byte(0x01);
  fixed32(spanFlags(entry.flags, entry.parentSpanId === undefined ? undefined : entry.parentRemote === true));
}

/**
 * The request: `1 resource_…` each (`1 resource`, `2 scope_…`, `3 schema_url`), and in each
 * `scope_…` its `1 scope` and `2` its records. Each scope group (its scope, then its records,
 * each with two bytes reserved for its length, the usual size) is written into the scratch,
 * one after the other; their lengths give the request's, which is written into a buffer of
 * exactly its size around copies of them.
 */
function request<E>(items: readonly LaneItem<E>[], scopeOfEntry: (entry: E) => Scope, write: (entry: E) => void): Uint8Array {
  if (items.length === 0) return new Uint8Array(0);
  begin();
  try {
    const written: { readonly resource: EncodedResource; readonly length: number; readonly groups: readonly number[] }[] = [];
    let total = 0;
    for (const [resource, byScope] of groupByResourceAndScope(items, scopeOfEntry)) {
      const encoded = resourceOf(resource);
      const groups: number[] = [];
      let length = encoded.head.length + encoded.tail.length;
      for (const entries of byScope.values()) {
        const start = mark();
        scope(scopeOfEntry(entries[0] as E));
        for (const entry of entries) {
          const at = open(0x12, 2);
          write(entry);
          close(at, 2);
        }
        const size = mark() - start;
        groups.push(size);
        length += 1 + varintSize(size) + size;
      }
      written.push({ resource: encoded, length, groups });
      total += 1 + varintSize(length) + length;
    }
    // Memory written before when a request of about this size was sent and given back.
    const out = requestMemory(total);
    let at = 0;
    let from = 0;
    for (const { resource, length, groups } of written) {
      out[at++] = 0x0a;
      at = lengthAt(out, at, length);
      out.set(resource.head, at);
      at += resource.head.length;
      for (const size of groups) {
        out[at++] = 0x12;
        at = lengthAt(out, at, size);
        out.set(view(from, from + size), at);
        at += size;
        from += size;
      }
      out.set(resource.tail, at);
      at += resource.tail.length;
    }
    return out;
  } finally {
    end();
  }
}

/** Both serialisers below run to completion without yielding: the scratch is never written by two at once. */

/** An OTLP protobuf `ExportLogsServiceRequest`, byte for byte as `ProtobufLogsSerializer.serializeRequest` writes the same records. */
export function serializeLogsProtobuf(items: readonly LaneItem<LogEntry>[]): Uint8Array {
  return request(items, (log) => log.scope, logRecord);
}

/** An OTLP protobuf `ExportTraceServiceRequest`, byte for byte as `ProtobufTraceSerializer.serializeRequest` writes the same spans. */
export function serializeSpansProtobuf(items: readonly LaneItem<SpanEntry>[]): Uint8Array {
  return request(items, (entry) => entry.scope ?? SCOPE, span);
}
