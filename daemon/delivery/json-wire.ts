/**
 * JSON as the lanes' OTLP JSON serialiser (otlp-json.ts) writes it: bytes straight into a scratch
 * buffer, no string built per record. Each function writes what `JSON.stringify` writes for the
 * value the SDK's transformer makes of it; KeyValues that repeat from record to record are
 * encoded once and copied after that.
 *
 * One request is written at a time, from {@link begin} to {@link takeRequest}, without yielding.
 */
import { hrTimeOf } from '../lane-records.js';

import { type Lead, leadOf } from './attribute-leads.js';
import { copyOf, requestScratch as scratch } from './byte-buffer.js';

/**
 * The records of one request are written into the shared scratch, which the request then takes
 * (byte-buffer.ts). The scratch's handling is protobuf-wire.ts's, on state of this module's own: the
 * writers' loops index `buf` at `pos` directly, which state shared through an object would slow.
 */
const NONE = Buffer.alloc(0);
/** The scratch's memory while a request is written, and the position in it. */
let buf: Buffer = NONE;
let pos = 0;

/** Starts a request: the scratch is empty. */
export function begin(): void {
  buf = scratch.writable(0, 0);
  pos = 0;
}

/** Where the next byte goes. */
export function mark(): number {
  return pos;
}

/** Forgets what was written from `at` on. */
export function rewind(at: number): void {
  pos = at;
}

/** A copy of what was written from `from` on, to keep. */
export function copyOut(from: number): Buffer {
  return copyOf(buf.subarray(from, pos));
}

/** The request written, to keep (in the scratch's own memory when it is a request's size); the next request starts afresh. */
export function takeRequest(): Buffer {
  scratch.writable(pos, 0);
  const request = scratch.take();
  buf = NONE;
  pos = 0;
  return request;
}

function room(more: number): void {
  if (pos + more > buf.length) buf = scratch.writable(pos, more);
}

export function copy(bytes: Uint8Array): void {
  room(bytes.length);
  buf.set(bytes, pos);
  pos += bytes.length;
}

/**
 * A fragment of the serialisers' own JSON (ASCII), encoded once: {@link copy} writes one of a
 * dozen bytes or more in about half the time {@link raw} takes to write it character by character.
 */
export function fragment(ascii: string): Uint8Array {
  return Buffer.from(ascii, 'latin1');
}

/** Text known to be ASCII (the serialiser's own punctuation and names, digits); a constant of more than a few characters goes faster as a {@link fragment}. */
export function raw(ascii: string): void {
  const n = ascii.length;
  room(n);
  // In locals: the loop then keeps them in registers rather than in the module's context.
  const out = buf;
  let at = pos;
  for (let i = 0; i < n; i++) out[at++] = ascii.charCodeAt(i);
  pos = at;
}

/**
 * A JSON string, as `JSON.stringify` writes it: printable ASCII byte by byte (most strings are
 * all of it), anything else through `JSON.stringify` and Buffer's UTF-8 (which escapes control
 * characters and lone surrogates, as the SDK's `JSON.stringify` of the request does).
 */
export function text(value: string): void {
  const n = value.length;
  room(n + 2);
  const start = pos;
  const out = buf;
  let at = start;
  out[at++] = 0x22;
  let i = 0;
  for (let c = 0; i < n && (c = value.charCodeAt(i)) >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c; i++) out[at++] = c;
  if (i === n) {
    out[at++] = 0x22;
    pos = at;
    return;
  }
  pos = start;
  const quoted = JSON.stringify(value);
  room(quoted.length * 3);
  pos += buf.write(quoted, pos, 'utf8');
}

/** A number as `JSON.stringify` writes it (NaN and the infinities as null). */
export function num(value: number): void {
  raw(Number.isFinite(value) ? String(value) : 'null');
}

/** A small non-negative integer (a count, a flag, an enum). */
export function digits(value: number): void {
  if (value < 10) {
    room(1);
    buf[pos++] = 0x30 + value;
    return;
  }
  raw(String(value));
}

/** Epoch milliseconds as nanoseconds in a decimal string, as the SDK's `encodeAsString` writes the time it holds. */
export function nanos(ms: number): void {
  const [seconds, fraction] = hrTimeOf(ms);
  if (Number.isInteger(seconds) && Number.isInteger(fraction) && seconds > 0 && fraction >= 0 && fraction < 1e9) {
    room(32);
    buf[pos++] = 0x22;
    raw(String(seconds));
    // The nanoseconds, zero-padded to nine digits.
    const out = buf;
    let at = pos;
    for (let unit = 100_000_000; unit >= 1; unit /= 10) out[at++] = 0x30 + (Math.floor(fraction / unit) % 10);
    out[at++] = 0x22;
    pos = at;
    return;
  }
  raw(`"${(BigInt(Math.trunc(seconds)) * 1_000_000_000n + BigInt(Math.trunc(fraction))).toString()}"`);
}

const STRING_VALUE = fragment('{"stringValue":');
const INT_VALUE = fragment('{"intValue":');
const DOUBLE_VALUE = fragment('{"doubleValue":');

/** An `AnyValue`, as the SDK's `toAnyValue` makes it and `JSON.stringify` writes it. */
export function anyValue(value: unknown): void {
  switch (typeof value) {
    case 'string':
      copy(STRING_VALUE);
      text(value);
      return raw('}');
    case 'number':
      copy(Number.isInteger(value) ? INT_VALUE : DOUBLE_VALUE);
      num(value);
      return raw('}');
    case 'boolean':
      return raw(value ? '{"boolValue":true}' : '{"boolValue":false}');
    default:
      break;
  }
  if (value instanceof Uint8Array) return raw(`{"bytesValue":"${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')}"}`);
  if (Array.isArray(value)) {
    raw('{"arrayValue":{"values":[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) raw(',');
      anyValue(value[i]);
    }
    return raw(']}}');
  }
  if (typeof value === 'object' && value !== null) {
    raw('{"kvlistValue":{"values":');
    attributes(value as Record<string, unknown>);
    return raw('}}');
  }
  raw('{}');
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Written KeyValues, by key, then by value: most of an event's attributes (its session's
 * context, its name, its client) repeat from event to event, and are written once. Values of a
 * key that takes many (ids, timestamps) are not kept beyond the first {@link VALUES_PER_KEY}; at
 * most {@link KEYS_KEPT} keys are, then the cache starts again.
 */
const written = new Map<string, { readonly prefix: Uint8Array; readonly byValue: Map<string | boolean, Uint8Array> }>();
const VALUES_PER_KEY = 32;
const KEYS_KEPT = 256;
/** Longest string value kept. */
const VALUE_CHARS_KEPT = 256;

/** `{"key":…,"value":…}` */
function keyValue(key: string, value: unknown): void {
  let known = written.get(key);
  if (known === undefined) {
    if (written.size >= KEYS_KEPT) written.clear();
    const start = pos;
    raw('{"key":');
    text(key);
    raw(',"value":');
    known = { prefix: copyOut(start), byValue: new Map() };
    pos = start;
    written.set(key, known);
  }
  const kept = (typeof value === 'string' && value.length <= VALUE_CHARS_KEPT) || typeof value === 'boolean';
  const bytes = kept ? known.byValue.get(value) : undefined;
  if (bytes !== undefined) return copy(bytes);
  const start = pos;
  copy(known.prefix);
  anyValue(value);
  raw('}');
  if (kept && known.byValue.size < VALUES_PER_KEY) known.byValue.set(value, copyOut(start));
}

/** Leads' KeyValues as written, one after another (comma-separated), by lead. */
const writtenLeads = new WeakMap<Lead, Uint8Array>();

/** A lead's KeyValues, written the first time (in the scratch past what is written, and copied out). */
function writtenLead(lead: Lead): Uint8Array {
  let bytes = writtenLeads.get(lead);
  if (bytes === undefined) {
    const start = pos;
    for (let at = 0; at < lead.keys.length; at++) {
      if (at > 0) raw(',');
      keyValue(lead.keys[at] as string, lead.values[at]);
    }
    bytes = copyOut(start);
    pos = start;
    writtenLeads.set(lead, bytes);
  }
  return bytes;
}

/**
 * `[{"key":…,"value":…},…]`, in `Object.keys` order, as the SDK's `toAttributes` writes the
 * attributes `{...lead, ...values}`; the lead's (attribute-leads.ts) copied from its KeyValues,
 * written once. No key of `values` may be the lead's.
 */
export function attributes(values: Readonly<Record<string, unknown>>, lead?: Readonly<Record<string, unknown>>): void {
  raw('[');
  let first = true;
  if (lead !== undefined) {
    const known = leadOf(lead);
    if (known.keys.length > 0) {
      copy(writtenLead(known));
      first = false;
    }
  }
  // In `Object.keys` order, without the array it would make.
  for (const key in values) {
    if (!hasOwn.call(values, key)) continue;
    if (!first) raw(',');
    keyValue(key, values[key]);
    first = false;
  }
  raw(']');
}

/** `,"name":` by name: the few names {@link optional} is called with, each encoded once. */
const optionalNames = new Map<string, Uint8Array>();

/** `,"name":value` for a value the SDK's object may hold as undefined (JSON.stringify leaves those out). */
export function optional(name: string, value: string | number | undefined): void {
  if (value === undefined) return;
  let prefix = optionalNames.get(name);
  if (prefix === undefined) optionalNames.set(name, (prefix = fragment(`,"${name}":`)));
  copy(prefix);
  if (typeof value === 'string') text(value);
  else num(value);
}
