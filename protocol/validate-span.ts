/**
 * Pure validators of `trace/span`: a batch of finished spans a host made itself. Every failure
 * names `spans[i]`, the field and the rule.
 */
import type { RejectionCode } from './errors.js';
import {
  MAX_BATCH_SPANS,
  MAX_SESSION_ID_LENGTH,
  MAX_SPAN_ATTRIBUTES,
  MAX_SPAN_EVENTS,
  MAX_SPAN_LINKS,
  MAX_SPAN_NAME_LENGTH,
  MAX_SPAN_SCOPE_LENGTH,
  MAX_SPAN_STATUS_MESSAGE_LENGTH,
} from './limits.js';
import { type HostSpan, SPAN_KINDS, SPAN_STATUS_CODES } from './methods.js';
import { isValidTracestate } from './trace-context.js';
import { attributesProblem, type Checked, type CheckedItems, checkItemBatch, isEpochMs, isPlainObject, type RecordProblem, TIME_RULE } from './validate.js';

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Span names are text of any kind; the one rule beyond the length is that it be valid Unicode (no lone surrogate). */
function nameProblem(name: unknown, max: number): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string';
  if (name.length > max) return `exceeds ${max} characters`;
  if (LONE_SURROGATE.test(name)) return 'must be valid Unicode (it holds a lone surrogate)';
  return null;
}

function idProblem(traceId: unknown, spanId: unknown, at: (field: string, code: RejectionCode, rule: string) => RecordProblem, prefix = ''): RecordProblem | null {
  if (typeof traceId !== 'string' || !TRACE_ID.test(traceId) || traceId === ZERO_TRACE) return at(`${prefix}traceId`, 'invalid_span_id', 'must be 32 lowercase hex digits, not all zero');
  if (typeof spanId !== 'string' || !SPAN_ID.test(spanId) || spanId === ZERO_SPAN) return at(`${prefix}spanId`, 'invalid_span_id', 'must be 16 lowercase hex digits, not all zero');
  return null;
}

function traceContextProblem(raw: Record<string, unknown>, at: (field: string, code: RejectionCode, rule: string) => RecordProblem, prefix = ''): RecordProblem | null {
  const flags = raw.flags;
  if (flags !== undefined && (typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255)) return at(`${prefix}flags`, 'invalid_trace_context', 'must be an integer from 0 to 255 (W3C trace flags)');
  if (raw.tracestate !== undefined && !isValidTracestate(raw.tracestate)) return at(`${prefix}tracestate`, 'invalid_trace_context', 'must be a valid W3C tracestate');
  return null;
}

/**
 * Checks one span of a batch: `null` when `raw` is a valid {@link HostSpan}, else the rejection
 * code and a message naming `spans[index]`, the field and the rule.
 */
export function hostSpanProblem(raw: unknown, index: number): RecordProblem | null {
  const at = (field: string, code: RejectionCode, rule: string): RecordProblem => ({ code, message: `spans[${index}].${field}: ${rule}` });
  if (!isPlainObject(raw)) return { code: 'invalid_span', message: `spans[${index}]: must be an object` };
  const ids = idProblem(raw.traceId, raw.spanId, at);
  if (ids !== null) return ids;
  const parent = raw.parentSpanId;
  if (parent !== undefined && (typeof parent !== 'string' || !SPAN_ID.test(parent) || parent === ZERO_SPAN)) {
    return at('parentSpanId', 'invalid_span_id', 'must be 16 lowercase hex digits, not all zero (leave it out for a root span)');
  }
  const name = nameProblem(raw.name, MAX_SPAN_NAME_LENGTH);
  if (name !== null) return at('name', 'invalid_name', name);
  if (raw.kind !== undefined && !(SPAN_KINDS as readonly unknown[]).includes(raw.kind)) return at('kind', 'invalid_kind', `must be one of ${SPAN_KINDS.join(', ')}`);
  if (!isEpochMs(raw.startTime)) return at('startTime', 'invalid_time', TIME_RULE);
  if (!isEpochMs(raw.endTime)) return at('endTime', 'invalid_time', TIME_RULE);
  if (raw.endTime < raw.startTime) return at('endTime', 'invalid_time', 'must not be before startTime');
  const status = raw.status;
  if (status !== undefined) {
    if (!isPlainObject(status) || !(SPAN_STATUS_CODES as readonly unknown[]).includes(status.code)) return at('status', 'invalid_status', `must be an object with a code of ${SPAN_STATUS_CODES.join(', ')}`);
    const message = status.message;
    if (message !== undefined && (typeof message !== 'string' || message.length > MAX_SPAN_STATUS_MESSAGE_LENGTH)) return at('status.message', 'invalid_status', `must be a string of at most ${MAX_SPAN_STATUS_MESSAGE_LENGTH} characters`);
  }
  const attributes = attributesProblem(raw.attributes, `spans[${index}].attributes`, 0, MAX_SPAN_ATTRIBUTES, 'the span');
  if (typeof attributes !== 'number') return attributes;
  const context = traceContextProblem(raw, at);
  if (context !== null) return context;
  const sessionId = raw.sessionId;
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > MAX_SESSION_ID_LENGTH)) {
    return at('sessionId', 'invalid_session_id', `must be a non-empty string of at most ${MAX_SESSION_ID_LENGTH} characters`);
  }
  const scope = raw.scope;
  if (scope !== undefined) {
    if (!isPlainObject(scope) || nameProblem(scope.name, MAX_SPAN_SCOPE_LENGTH) !== null) return at('scope', 'invalid_span', `must be {name, version?}, the name 1 to ${MAX_SPAN_SCOPE_LENGTH} characters`);
    if (scope.version !== undefined && (typeof scope.version !== 'string' || scope.version.length > MAX_SPAN_SCOPE_LENGTH)) return at('scope.version', 'invalid_span', `must be a string of at most ${MAX_SPAN_SCOPE_LENGTH} characters`);
  }
  return eventsProblem(raw.events, index, at) ?? linksProblem(raw.links, index, at);
}

function eventsProblem(events: unknown, index: number, at: (field: string, code: RejectionCode, rule: string) => RecordProblem): RecordProblem | null {
  if (events === undefined) return null;
  if (!Array.isArray(events)) return at('events', 'invalid_span_event', 'must be an array of {name, time, attributes?}');
  if (events.length > MAX_SPAN_EVENTS) return at('events', 'invalid_span_event', `${events.length} events exceed the limit of ${MAX_SPAN_EVENTS}`);
  for (let position = 0; position < events.length; position++) {
    const event: unknown = events[position];
    const field = `events[${position}]`;
    if (!isPlainObject(event)) return at(field, 'invalid_span_event', 'must be an object with "name" and "time"');
    const name = nameProblem(event.name, MAX_SPAN_NAME_LENGTH);
    if (name !== null) return at(`${field}.name`, 'invalid_span_event', name);
    if (!isEpochMs(event.time)) return at(`${field}.time`, 'invalid_span_event', TIME_RULE);
    const attributes = attributesProblem(event.attributes, `spans[${index}].${field}.attributes`, 0, MAX_SPAN_ATTRIBUTES, 'the span event');
    if (typeof attributes !== 'number') return attributes;
  }
  return null;
}

function linksProblem(links: unknown, index: number, at: (field: string, code: RejectionCode, rule: string) => RecordProblem): RecordProblem | null {
  if (links === undefined) return null;
  if (!Array.isArray(links)) return at('links', 'invalid_link', 'must be an array of {traceId, spanId, tracestate?, flags?, attributes?}');
  if (links.length > MAX_SPAN_LINKS) return at('links', 'invalid_link', `${links.length} links exceed the limit of ${MAX_SPAN_LINKS}`);
  for (let position = 0; position < links.length; position++) {
    const link: unknown = links[position];
    const field = `links[${position}]`;
    if (!isPlainObject(link)) return at(field, 'invalid_link', 'must be an object with "traceId" and "spanId"');
    const problem = idProblem(link.traceId, link.spanId, at, `${field}.`) ?? traceContextProblem(link, at, `${field}.`);
    if (problem !== null) return problem;
    const attributes = attributesProblem(link.attributes, `spans[${index}].${field}.attributes`, 0, MAX_SPAN_ATTRIBUTES, 'the link');
    if (typeof attributes !== 'number') return attributes;
  }
  return null;
}

/** Spans in `params.spans` when it is an array, else 0. */
export function spanCount(params: unknown): number {
  const spans = typeof params === 'object' && params !== null ? (params as { spans?: unknown }).spans : undefined;
  return Array.isArray(spans) ? spans.length : 0;
}

export type CheckedSpanBatch = CheckedItems<HostSpan>;

/**
 * Checks `trace/span` params. A malformed envelope (not an object, `spans` not an array, more
 * than {@link MAX_BATCH_SPANS} spans) fails as a whole; otherwise each bad span is rejected alone.
 */
export function checkSpanBatch(params: unknown): Checked<CheckedSpanBatch> & { tooLarge?: boolean } {
  return checkItemBatch<HostSpan>(params, 'spans', MAX_BATCH_SPANS, hostSpanProblem);
}
