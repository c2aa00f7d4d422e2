/**
 * The records the lanes hand to their batch processors, made directly rather than through a
 * TracerProvider or LoggerProvider: each carries its host's resource (a provider has one), and
 * a host-made span keeps the ids, kind, status, events and links the host gave it.
 */

import { type Attributes, type AttributeValue, type HrTime, type Link, SeverityNumber, type SpanContext, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

import type { SpanKindName, SpanStatusCode as WireStatusCode } from '../protocol/index.js';

/** The instrumentation scope of everything the lanes make; one object, as the serialisers group by it. */
export const SCOPE = Object.freeze({ name: 'codex' });

/**
 * A span ready for the trace lane, as plain data (the journal keeps it as it is): a host-made
 * span after the privacy rules, or a session event's span.
 */
export interface SpanEntry {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  /** The parent came from another process (an event's `traceparent`), not from the same host's span tree. */
  readonly parentRemote?: boolean;
  readonly name: string;
  readonly kind: SpanKindName;
  readonly startMs: number;
  readonly endMs: number;
  readonly status: { readonly code: WireStatusCode; readonly message?: string };
  readonly attributes: Attributes;
  readonly events: readonly { readonly name: string; readonly time: number; readonly attributes: Attributes }[];
  readonly links: readonly { readonly traceId: string; readonly spanId: string; readonly tracestate?: string; readonly flags?: number; readonly attributes: Attributes }[];
  readonly tracestate?: string;
  /** W3C trace flags; the lane takes only sampled spans. */
  readonly flags: number;
  /** The host's instrumentation scope; {@link SCOPE} without one. */
  readonly scope?: { readonly name: string; readonly version?: string };
}

/**
 * Epoch milliseconds as OpenTelemetry's [seconds, nanoseconds]. A plain number would do only for
 * times after this process started: the SDK takes smaller numbers for `performance.now()`
 * readings, and a hand-off file or a slow client can carry earlier times.
 */
export function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return [seconds, nanos];
}

function durationOf(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds--;
    nanos += 1e9;
  }
  return [seconds, nanos];
}

const KINDS: Readonly<Record<SpanKindName, SpanKind>> = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };
const STATUS: Readonly<Record<WireStatusCode, SpanStatusCode>> = { unset: SpanStatusCode.UNSET, ok: SpanStatusCode.OK, error: SpanStatusCode.ERROR };

/** Random ids are taken from a pool refilled 4 KiB at a time: a span does not cost a system call. */
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolAt + bytes > POOL.length) {
      process.getBuiltinModule('node:crypto').randomFillSync(POOL);
      poolAt = 0;
    }
    const hex = POOL.toString('hex', poolAt, poolAt + bytes);
    poolAt += bytes;
    // All zero is not a valid W3C id; vanishingly rare, but then draw again.
    if (/[^0]/.test(hex)) return hex;
  }
}

/** A new W3C trace id (32 hex digits, not all zero). */
export const newTraceId = (): string => randomHex(16);
/** A new W3C span id (16 hex digits, not all zero). */
export const newSpanId = (): string => randomHex(8);

function traceStateOf(value: string | undefined): TraceState | undefined {
  return value === undefined || value === '' ? undefined : new TraceState(value);
}

/** The empty list of links or events, shared: exporters and serialisers only read them. */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/** The span as the SDK's exporters and serialisers read it. */
export function readableSpan(entry: SpanEntry, resource: Resource): ReadableSpan {
  const traceState = traceStateOf(entry.tracestate);
  const context: SpanContext = traceState === undefined ? { traceId: entry.traceId, spanId: entry.spanId, traceFlags: entry.flags } : { traceId: entry.traceId, spanId: entry.spanId, traceFlags: entry.flags, traceState };
  const startTime = hrTimeOf(entry.startMs);
  const endTime = hrTimeOf(entry.endMs);
  // A session event's span has neither links nor events: no new arrays for it.
  const links: Link[] = entry.links.length === 0 ? NONE : entry.links.map((link) => {
    const linkState = traceStateOf(link.tracestate);
    return {
      context: { traceId: link.traceId, spanId: link.spanId, traceFlags: link.flags ?? TraceFlags.SAMPLED, ...(linkState === undefined ? {} : { traceState: linkState }) },
      attributes: link.attributes,
    };
  });
  return {
    name: entry.name,
    kind: KINDS[entry.kind],
    spanContext: () => context,
    ...(entry.parentSpanId === undefined ? {} : { parentSpanContext: { traceId: entry.traceId, spanId: entry.parentSpanId, traceFlags: entry.flags, isRemote: entry.parentRemote === true } }),
    startTime,
    endTime,
    status: entry.status.message === undefined ? { code: STATUS[entry.status.code] } : { code: STATUS[entry.status.code], message: entry.status.message },
    attributes: entry.attributes,
    links,
    events: entry.events.length === 0 ? NONE : entry.events.map((event) => ({ name: event.name, time: hrTimeOf(event.time), attributes: event.attributes })),
    duration: durationOf(startTime, endTime),
    ended: true,
    resource,
    // The serialisers group spans by the scope's name and version, not by the object.
    instrumentationScope: entry.scope ?? SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A session event's log record, in the context of its span (or its caller's), so the two correlate. */
export function readableLogRecord(name: string, timeMs: number, attributes: Attributes, context: SpanContext | undefined, resource: Resource): ReadableLogRecord {
  const time = hrTimeOf(timeMs);
  return {
    hrTime: time,
    hrTimeObserved: time,
    ...(context === undefined ? {} : { spanContext: context }),
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: name,
    eventName: name,
    resource,
    instrumentationScope: SCOPE,
    attributes,
    droppedAttributesCount: 0,
  };
}

/**
 * A log record an OpenTelemetry SDK exported over OTLP, ready for the log lane as plain data
 * (the journal keeps it as it is): after the privacy rules, under its sender's scope.
 */
export interface LogEntry {
  readonly timeMs: number;
  readonly observedMs: number;
  readonly severityNumber: number;
  readonly severityText?: string;
  readonly body?: AttributeValue;
  readonly eventName?: string;
  readonly attributes: Attributes;
  /** The span it was recorded in, if any: 32 and 16 hex digits, and the trace flags. */
  readonly traceId?: string;
  readonly spanId?: string;
  readonly flags?: number;
  readonly scope: { readonly name: string; readonly version?: string };
}

/** A log record a sender made, for the log lane, under its resource. */
export function readableHostLogRecord(entry: LogEntry, resource: Resource): ReadableLogRecord {
  const observed = hrTimeOf(entry.observedMs);
  return {
    hrTime: entry.timeMs === 0 ? observed : hrTimeOf(entry.timeMs),
    hrTimeObserved: observed,
    ...(entry.traceId === undefined || entry.spanId === undefined ? {} : { spanContext: { traceId: entry.traceId, spanId: entry.spanId, traceFlags: entry.flags ?? 0 } }),
    severityNumber: entry.severityNumber as SeverityNumber,
    ...(entry.severityText === undefined ? {} : { severityText: entry.severityText }),
    ...(entry.body === undefined ? {} : { body: entry.body }),
    ...(entry.eventName === undefined ? {} : { eventName: entry.eventName }),
    resource,
    instrumentationScope: entry.scope.version === undefined ? { name: entry.scope.name } : { name: entry.scope.name, version: entry.scope.version },
    attributes: entry.attributes,
    droppedAttributesCount: 0,
  } as ReadableLogRecord;
}

/** Characters a span's attributes hold, its events' and links' included: what its memory grows with. */
export function spanWeight(span: { readonly attributes: Attributes; readonly events: readonly { readonly name: string; readonly attributes?: Attributes }[]; readonly links: readonly { readonly attributes?: Attributes }[] }): number {
  let weight = attributesWeight(span.attributes);
  for (const event of span.events) weight += event.name.length + (event.attributes === undefined ? 0 : attributesWeight(event.attributes));
  // A link's ids and flags, then its attributes.
  for (const link of span.links) weight += 48 + (link.attributes === undefined ? 0 : attributesWeight(link.attributes));
  return weight;
}

/** Characters a log record holds: its attributes' and a string body's, what the log lane bounds. */
export function logWeight(attributes: Attributes, body: unknown): number {
  return attributesWeight(attributes) + (typeof body === 'string' ? body.length : 0);
}

/** Characters held by attributes: keys and string values, 8 for any other value. */
export function attributesWeight(attributes: Attributes): number {
  let weight = 0;
  for (const key in attributes) {
    const value = attributes[key];
    weight += key.length + (typeof value === 'string' ? value.length : 8);
  }
  return weight;
}
