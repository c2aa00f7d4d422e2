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
 * fixed64 of times follow the SDK's writer; test/otlp-protobuf.test.ts compares the two byte
 * for byte. Field numbers are those of opentelemetry-proto's trace.proto, logs.proto and
 * common.proto; a tag byte is `field << 3 | wire type` (0 varint, 1 fixed64, 2 length-delimited,
 * 5 fixed32), written as hex next to the field it opens.
 */
import type { Resource } from '@opentelemetry/resources';

import { groupByResourceAndScope, hrTimeOf, type LaneItem, type LogEntry, type Scope, SCOPE, type SpanEntry, SPAN_KIND_NUMBERS, STATUS_CODE_NUMBERS, traceStateText } from '../lane-records.js';

import { type ByteBuffer, createByteBuffer } from './byte-buffer.js';

/** The records of one request are written here, then copied out at its exact size. */
const scratch: ByteBuffer = createByteBuffer(1024 * 1024, 4 * 1024 * 1024);
const NONE = Buffer.alloc(0);
/** The scratch's memory while a request is written, and the position in it. */
let buf: Buffer = NONE;
let pos = 0;

function room(more: number): void {
  if (pos + more > buf.length) buf = scratch.writable(pos, more);
}

function byte(value: number): void {
  room(1);
  buf[pos++] = value;
}

function copy(bytes: Uint8Array): void {
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

/** A varint as the SDK's `writeVarint` writes any number: fractions cut, a negative one (and NaN, as 0) in 64-bit two's complement. */
function varint(value: number): void {
  room(10);
  if (value >= 0 && value <= 0xffffffff) {
    pos = lengthAt(buf, pos, value >>> 0);
    return;
  }
  let low = value >>> 0;
  let high = (Math.abs(value) / 4294967296) >>> 0;
  if (!(value >= 0)) {
    low = (~(Math.abs(value) >>> 0) + 1) >>> 0;
    high = low === 0 ? (~high + 1) >>> 0 : ~high >>> 0;
  }
  for (; high > 0 || low > 127; high >>>= 7) {
    buf[pos++] = (low & 127) | 128;
    low = ((low >>> 7) | (high << 25)) >>> 0;
  }
  buf[pos++] = low & 127;
}

/** Field `tag`: a varint. */
function uint(tag: number, value: number): void {
  byte(tag);
  varint(value);
}

/** The low 32 bits of `value`, little-endian (byte by byte: Buffer's `writeUInt32LE` boxes the number). */
function fixed32(value: number): void {
  room(4);
  const v = value >>> 0;
  buf[pos++] = v;
  buf[pos++] = v >>> 8;
  buf[pos++] = v >>> 16;
  buf[pos++] = v >>> 24;
}

/**
 * Field `tag`: epoch milliseconds as fixed64 nanoseconds, from `hrTimeOf` and then exactly as the
 * SDK's `writeHrTimeAsFixed64` from the [seconds, nanoseconds] it holds: for times before 1970
 * that is not the two's complement (-1.5 s comes out as 65534.5 s), but it is what the SDK sends.
 */
function time(tag: number, ms: number): void {
  byte(tag);
  const [seconds, nanos] = hrTimeOf(ms);
  const fromLower = (seconds & 0xffff) * 1e9;
  const fromUpper = ((seconds / 65536) >>> 0) * 1e9;
  const low = (fromLower >>> 0) + (((fromUpper & 0xffff) * 65536) >>> 0) + nanos;
  fixed32(low);
  fixed32(Math.floor(fromLower / 4294967296) + ((fromUpper / 65536) >>> 0) + Math.floor(low / 4294967296));
}

/**
 * Field `tag`: a string. Short ASCII goes byte by byte (most do), the rest through Buffer's UTF-8,
 * which counts and writes a lone surrogate as U+FFFD, as the SDK's TextEncoder does.
 */
function string(tag: number, text: string): void {
  const n = text.length;
  room(n + 2);
  buf[pos++] = tag;
  if (n < 128) {
    const start = pos;
    buf[pos++] = n;
    let i = 0;
    for (let c = 0; i < n && (c = text.charCodeAt(i)) < 128; i++) buf[pos++] = c;
    if (i === n) return;
    pos = start;
  }
  const length = Buffer.byteLength(text, 'utf8');
  varint(length);
  room(length);
  pos += buf.write(text, pos, 'utf8');
}

function hexDigit(code: number): number {
  return code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : code - 55;
}

/** Field `tag`: hex digits as bytes, decoded as the SDK's `hexToBinary` does (odd lengths and non-hex characters alike). */
function hexBytes(tag: number, hex: string): void {
  const n = hex.length >>> 1;
  room(n + 6);
  buf[pos++] = tag;
  varint(n);
  for (let i = 0; i < 2 * n; i += 2) buf[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
}

/** Field `tag`, a message: reserves `reserved` bytes for its length; {@link close} writes it. */
function open(tag: number, reserved: number): number {
  room(reserved + 1);
  buf[pos++] = tag;
  pos += reserved;
  return pos - reserved;
}

/** Writes the length of what was written since {@link open}, moving it when the length takes other than the bytes reserved. */
function close(at: number, reserved: number): void {
  const length = pos - at - reserved;
  const size = varintSize(length);
  if (size !== reserved) {
    room(size - reserved);
    buf.copyWithin(at + size, at + reserved, pos);
    pos += size - reserved;
  }
  lengthAt(buf, at, length);
}

/** Writes a varint of up to 32 bits (a length) at `at` in `target`; returns where it ends. */
function lengthAt(target: Buffer, at: number, length: number): number {
  for (; length > 127; length >>>= 7) target[at++] = (length & 127) | 128;
  target[at++] = length;
  return at;
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** An `AnyValue`'s field as the SDK's `writeAnyValue` picks it: none for undefined, null and other types. */
function anyValue(value: unknown): void {
  if (typeof value === 'string') return string(0x0a, value); // 1 string_value
  if (typeof value === 'boolean') return uint(0x10, value ? 1 : 0); // 2 bool_value
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) return uint(0x18, value); // 3 int_value
    byte(0x21); // 4 double_value
    room(8);
    pos = buf.writeDoubleLE(value, pos);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  if (value instanceof Uint8Array) {
    uint(0x3a, value.length); // 7 bytes_value
    return copy(value);
  }
  if (Array.isArray(value)) {
    const at = open(0x2a, 1); // 5 array_value: ArrayValue 1 values
    for (let i = 0; i < value.length; i++) {
      const item = open(0x0a, 1);
      anyValue(value[i]);
      close(item, 1);
    }
    return close(at, 1);
  }
  const at = open(0x32, 1); // 6 kvlist_value: KeyValueList 1 values
  attributes(0x0a, value as Readonly<Record<string, unknown>>);
  close(at, 1);
}

/**
 * Encoded KeyValues (their length first), by key, then by value: most of an event's attributes
 * (its session's context, its name, its client) repeat from event to event, and are encoded
 * once. Values of a key that takes many (ids, timestamps) are not kept beyond the first
 * {@link VALUES_PER_KEY}; at most {@link KEYS_KEPT} keys are, then the cache starts again.
 */
const encoded = new Map<string, { readonly key: Uint8Array; readonly byValue: Map<string | boolean, Uint8Array> }>();
const VALUES_PER_KEY = 32;
const KEYS_KEPT = 256;
/** Longest string value kept. */
const VALUE_CHARS_KEPT = 256;

/** Field `tag`: a KeyValue, `1 key`, `2 value`. */
function keyValue(tag: number, key: string, value: unknown): void {
  let known = encoded.get(key);
  if (known === undefined) {
    if (encoded.size >= KEYS_KEPT) encoded.clear();
    const start = pos;
    string(0x0a, key);
    known = { key: Buffer.from(buf.subarray(start, pos)), byValue: new Map() };
    pos = start;
    encoded.set(key, known);
  }
  const kept = (typeof value === 'string' && value.length <= VALUE_CHARS_KEPT) || typeof value === 'boolean';
  const bytes = kept ? known.byValue.get(value) : undefined;
  if (bytes !== undefined) {
    byte(tag);
    return copy(bytes);
  }
  const at = open(tag, 1);
  copy(known.key);
  const valueAt = open(0x12, 1);
  anyValue(value);
  close(valueAt, 1);
  close(at, 1);
  if (kept && known.byValue.size < VALUES_PER_KEY) known.byValue.set(value, Buffer.from(buf.subarray(at, pos)));
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Repeated KeyValues as field `tag`, in the order of the SDK's `for…in` (own keys only). */
function attributes(tag: number, values: Readonly<Record<string, unknown>> | undefined): void {
  if (!values) return;
  for (const key in values) if (hasOwn.call(values, key)) keyValue(tag, key, values[key]);
}

/** A Resource…'s `1 resource` (Resource `1 attributes`, `2 dropped_attributes_count`) and its `3 schema_url` if any, per resource (they live as long as their host). */
type EncodedResource = { readonly head: Uint8Array; readonly tail: Uint8Array };
const resources = new WeakMap<Resource, EncodedResource>();

/** Encoded in the scratch past what is written, and copied out. */
function resourceOf(resource: Resource): EncodedResource {
  const cached = resources.get(resource);
  if (cached !== undefined) return cached;
  const start = pos;
  const at = open(0x0a, 1);
  attributes(0x0a, resource.attributes);
  uint(0x10, 0);
  close(at, 1);
  const head = Buffer.from(buf.subarray(start, pos));
  pos = start;
  if (resource.schemaUrl) string(0x1a, resource.schemaUrl);
  const made = { head, tail: Buffer.from(buf.subarray(start, pos)) };
  pos = start;
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
  attributes(0x32, log.attributes);
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
  attributes(0x4a, entry.attributes);
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
  buf = scratch.writable(0, 0);
  pos = 0;
  try {
    const written: { readonly resource: EncodedResource; readonly length: number; readonly groups: readonly number[] }[] = [];
    let total = 0;
    for (const [resource, byScope] of groupByResourceAndScope(items, scopeOfEntry)) {
      const encoded = resourceOf(resource);
      const groups: number[] = [];
      let length = encoded.head.length + encoded.tail.length;
      for (const entries of byScope.values()) {
        const start = pos;
        scope(scopeOfEntry(entries[0] as E));
        for (const entry of entries) {
          const at = open(0x12, 2);
          write(entry);
          close(at, 2);
        }
        groups.push(pos - start);
        length += 1 + varintSize(pos - start) + pos - start;
      }
      written.push({ resource: encoded, length, groups });
      total += 1 + varintSize(length) + length;
    }
    const out = Buffer.allocUnsafe(total);
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
        at += buf.copy(out, at, from, from + size);
        from += size;
      }
      out.set(resource.tail, at);
      at += resource.tail.length;
    }
    return out;
  } finally {
    buf = NONE;
    pos = 0;
    scratch.reset();
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
