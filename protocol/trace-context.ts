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
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
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
