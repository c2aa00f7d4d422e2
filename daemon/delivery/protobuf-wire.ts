/**
 * The protobuf wire format as the lanes' serialiser (otlp-protobuf.ts) writes it: fields one
 * after the other into a scratch buffer, messages with room for their length reserved before
 * them and the length written after, and KeyValues that repeat from record to record encoded
 * once. Each function writes what the SDK's `ProtobufWriter` writes for the same value. A tag
 * byte is `field << 3 | wire type` (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
 *
 * One request is written at a time, from {@link begin} to {@link end}, without yielding.
 */
import { hrTimeOf } from '../lane-records.js';

import { type Lead, leadOf } from './attribute-leads.js';
import { copyOf, requestScratch as scratch } from './byte-buffer.js';

/** The records of one request are written into the shared scratch, then copied out at its exact size. */
const NONE = Buffer.alloc(0);
/** The scratch's memory while a request is written, and the position in it. */
let buf: Buffer = NONE;
let pos = 0;

/** Starts a request: the scratch is empty. */
export function begin(): void {
  buf = scratch.writable(0, 0);
  pos = 0;
}

/** Ends a request and lets the scratch go back to its size at rest. */
export function end(): void {
  buf = NONE;
  pos = 0;
  scratch.reset();
}

/** Where the next byte goes. */
export function mark(): number {
  return pos;
}

/** Forgets what was written from `at` on. */
export function rewind(at: number): void {
  pos = at;
}

/** A copy of what was written from `from` to `to`, to keep. */
export function copyOut(from: number, to: number = pos): Buffer {
  return copyOf(buf.subarray(from, to));
}

/** What was written from `from` to `to`, as a view: valid until the next write. */
export function view(from: number, to: number): Buffer {
  return buf.subarray(from, to);
}

function room(more: number): void {
  if (pos + more > buf.length) buf = scratch.writable(pos, more);
}

export function byte(value: number): void {
  room(1);
  buf[pos++] = value;
}

function copy(bytes: Uint8Array): void {
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

export function varintSize(value: number): number {
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
export function uint(tag: number, value: number): void {
  byte(tag);
  varint(value);
}

/** The low 32 bits of `value`, little-endian (byte by byte: Buffer's `writeUInt32LE` boxes the number). */
export function fixed32(value: number): void {
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
export function time(tag: number, ms: number): void {
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
export function string(tag: number, text: string): void {
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
export function hexBytes(tag: number, hex: string): void {
  const n = hex.length >>> 1;
  room(n + 6);
  buf[pos++] = tag;
  varint(n);
  for (let i = 0; i < 2 * n; i += 2) buf[pos++] = (hexDigit(hex.charCodeAt(i)) << 4) | hexDigit(hex.charCodeAt(i + 1));
}

/** Field `tag`, a message: reserves `reserved` bytes for its length; {@link close} writes it. */
export function open(tag: number, reserved: number): number {
  room(reserved + 1);
  buf[pos++] = tag;
  pos += reserved;
  return pos - reserved;
}

/** Writes the length of what was written since {@link open}, moving it when the length takes other than the bytes reserved. */
export function close(at: number, reserved: number): void {
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
export function lengthAt(target: Buffer, at: number, length: number): number {
  for (; length > 127; length >>>= 7) target[at++] = (length & 127) | 128;
  target[at++] = length;
  return at;
}

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** An `AnyValue`'s field as the SDK's `writeAnyValue` picks it: none for undefined, null and other types. */
export function anyValue(value: unknown): void {
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
    known = { key: copyOut(start), byValue: new Map() };
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
  if (kept && known.byValue.size < VALUES_PER_KEY) known.byValue.set(value, copyOut(at));
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Leads' KeyValues as encoded, one after another, by lead and then by field. */
const encodedLeads = new WeakMap<Lead, Map<number, Uint8Array>>();

/** A lead's KeyValues as field `tag`, encoded the first time (in the scratch past what is written, and copied out). */
function encodedLead(tag: number, lead: Lead): Uint8Array {
  let byTag = encodedLeads.get(lead);
  if (byTag === undefined) encodedLeads.set(lead, (byTag = new Map()));
  let bytes = byTag.get(tag);
  if (bytes === undefined) {
    const start = pos;
    for (let at = 0; at < lead.keys.length; at++) keyValue(tag, lead.keys[at] as string, lead.values[at]);
    bytes = copyOut(start);
    pos = start;
    byTag.set(tag, bytes);
  }
  return bytes;
}

/**
 * Repeated KeyValues as field `tag`, in the order of the SDK's `for…in` (own keys only) over the
 * attributes `{...lead, ...values}`; the lead's (attribute-leads.ts) copied from its KeyValues,
 * encoded once. No key of `values` may be the lead's.
 */
export function attributes(tag: number, values: Readonly<Record<string, unknown>> | undefined, lead?: Readonly<Record<string, unknown>>): void {
  if (lead !== undefined) {
    const known = leadOf(lead);
    if (known.keys.length > 0) copy(encodedLead(tag, known));
  }
  if (!values) return;
  for (const key in values) {
    if (hasOwn.call(values, key)) keyValue(tag, key, values[key]);
  }
}
