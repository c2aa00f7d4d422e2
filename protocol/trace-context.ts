/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing `traceparent` and checking
 * `tracestate`, as pure functions. The daemon ignores (and counts) what these refuse rather
 * than reject the event that carried it.
 */
import { MAX_TRACE_CONTEXT_LENGTH } from './limits.js';

export interface TraceParent {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Whether the caller sampled the trace (flag bit 0). */
  readonly sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * Parses a `traceparent` header value; `null` when it is malformed. Version `ff` is invalid;
 * version `00` allows nothing after the flags; later versions may append fields, which are
 * ignored as the specification asks.
 */
export function parseTraceparent(value: unknown): TraceParent | null {
  if (typeof value !== 'string' || value.length > MAX_TRACE_CONTEXT_LENGTH) return null;
  const match = TRACEPARENT.exec(value.trim());
  if (match === null) return null;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId: copied(traceId), spanId: copied(spanId), sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/**
 * A string matched out of a longer one, as a string of its own. V8 keeps a match of 13
 * characters or more as a slice of the string it came from, and one slice among an object's
 * strings takes `JSON.stringify` of the whole object off its fast path: the journal's line for
 * an event with a parent took 2.4 times as long to stringify (1.1 against 0.45 us). A parsed
 * traceparent is kept and put into every event of its turn, so it is copied once, here.
 */
function copied(slice: string): string {
  return JSON.parse(JSON.stringify(slice)) as string;
}

/** A simple key (`[a-z][a-z0-9_*\/-]{0,255}` with a leading digit allowed) or `tenant@system`. */
const TRACESTATE_KEY = /^(?:[a-z0-9][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13})$/;
/** Printable ASCII but `,` and `=`, at most 256 characters, not ending in a space. */
const TRACESTATE_VALUE = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;
/** Most list members in a tracestate. */
export const MAX_TRACESTATE_MEMBERS = 32;

/** True when `value` is a valid `tracestate` header value (empty members are allowed). */
export function isValidTracestate(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_TRACE_CONTEXT_LENGTH) return false;
  const keys = new Set<string>();
  for (const raw of value.split(',')) {
    const member = raw.trim();
    if (member === '') continue;
    const at = member.indexOf('=');
    if (at <= 0) return false;
    const key = member.slice(0, at);
    if (!TRACESTATE_KEY.test(key) || !TRACESTATE_VALUE.test(member.slice(at + 1)) || keys.has(key)) return false;
    keys.add(key);
  }
  return keys.size <= MAX_TRACESTATE_MEMBERS;
}

/** Fields of configured tracestate members: member key, then field name to value. */
export type TracestateFields = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** A field name or value inside a member: printable ASCII but the separators `,` `=` `;` `:`. */
const TRACESTATE_FIELD = /^[\x21-\x2b\x2d-\x39\x3c\x3e-\x7e](?:[\x20-\x2b\x2d-\x39\x3c\x3e-\x7e]*[\x21-\x2b\x2d-\x39\x3c\x3e-\x7e])?$/;

/** A member's fields as its value: `name:value` pairs joined by `;`, in name order. */
function encodeFields(fields: Readonly<Record<string, string>>): string {
  return Object.keys(fields)
    .sort()
    .map((name) => `${name}:${fields[name] as string}`)
    .join(';');
}

/**
 * What is wrong with configured tracestate members, as `[path under the table, expected]`, or
 * null when each member key is a W3C key, each field fits inside a member value, and each
 * encoded member is a valid tracestate value.
 */
export function checkTracestateFields(members: TracestateFields): [string, string] | null {
  const keys = Object.keys(members);
  if (keys.length > MAX_TRACESTATE_MEMBERS) return ['', `at most ${MAX_TRACESTATE_MEMBERS} members`];
  for (const key of keys) {
    if (!TRACESTATE_KEY.test(key)) return [key, 'a W3C tracestate key: lowercase letters, digits, _ - * /, starting with a letter or digit, or tenant@system'];
    const fields = members[key] as Readonly<Record<string, string>>;
    if (Object.keys(fields).length === 0) return [key, 'at least one field'];
    for (const [name, value] of Object.entries(fields)) {
      if (!TRACESTATE_FIELD.test(name)) return [`${key}.${name}`, 'a field name of printable ASCII without spaces at its ends, nor , = ; or :'];
      if (!TRACESTATE_FIELD.test(value)) return [`${key}.${name}`, 'a value of printable ASCII without spaces at its ends, nor , = ; or :'];
    }
    if (!TRACESTATE_VALUE.test(encodeFields(fields))) return [key, `a member of at most 256 characters once encoded as name:value;…`];
  }
  return null;
}

/**
 * Upserts configured member fields into a `tracestate`: a member already there keeps its other
 * fields, with the configured ones set; updated and added members move to the front, as W3C
 * asks of a vendor that changes its member. `null` when the result is empty.
 */
export function upsertTracestate(tracestate: string | null, members: TracestateFields): string | null {
  const keys = Object.keys(members);
  if (keys.length === 0) return tracestate;
  const existing = new Map<string, string>();
  const order: string[] = [];
  for (const raw of (tracestate ?? '').split(',')) {
    const member = raw.trim();
    const at = member.indexOf('=');
    if (at <= 0) continue;
    const key = member.slice(0, at);
    existing.set(key, member.slice(at + 1));
    order.push(key);
  }
  const front: string[] = [];
  for (const key of keys) {
    const fields = new Map<string, string>();
    const opaque: string[] = [];
    for (const part of (existing.get(key) ?? '').split(';')) {
      if (part === '') continue;
      const colon = part.indexOf(':');
      if (colon <= 0) opaque.push(part);
      else fields.set(part.slice(0, colon), part.slice(colon + 1));
    }
    const configured = members[key] as Readonly<Record<string, string>>;
    for (const name of Object.keys(configured).sort()) fields.set(name, configured[name] as string);
    const value = [...opaque, ...[...fields].map(([name, text]) => `${name}:${text}`)].join(';');
    // A member the merge would make invalid (too long) keeps its propagated value.
    front.push(`${key}=${TRACESTATE_VALUE.test(value) ? value : (existing.get(key) ?? encodeFields(members[key] as Readonly<Record<string, string>>))}`);
  }
  const rest = order.filter((key) => !(key in members)).map((key) => `${key}=${existing.get(key) as string}`);
  // The list holds at most 32 members: the rightmost (least recently changed) go first.
  return [...front, ...rest].slice(0, MAX_TRACESTATE_MEMBERS).join(',');
}
