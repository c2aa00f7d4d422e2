/**
 * The records the lanes hold and export, as plain data rather than the SDK's span and log
 * record objects: each goes out under its host's resource (a provider has one), and a host-made
 * span keeps the ids, kind, status, events and links the host gave it. The serialisers
 * (delivery/otlp-json.ts, delivery/otlp-protobuf.ts) write them as OTLP, and the journal keeps
 * them as they are.
 */

import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';

import type { SpanKindName, SpanStatusCode as WireStatusCode } from '../protocol/index.js';

/** An instrumentation scope: the serialisers group records by its name and version. */
export interface Scope {
  readonly name: string;
  readonly version?: string;
}

/** The instrumentation scope of everything the lanes make. */
export const SCOPE: Scope = Object.freeze({ name: 'codex' });

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
  /** Its attributes after {@link lead}, or all of them without one. */
  readonly attributes: Attributes;
  /** What its attributes begin with: an event's session context as the trace lane has it (see {@link LogEntry.lead}). */
  readonly lead?: Readonly<Record<string, string>> | undefined;
  readonly events: readonly { readonly name: string; readonly time: number; readonly attributes: Attributes }[];
  readonly links: readonly { readonly traceId: string; readonly spanId: string; readonly tracestate?: string; readonly flags?: number; readonly attributes: Attributes }[];
  readonly tracestate?: string;
  /** W3C trace flags; the lane takes only sampled spans. */
  readonly flags: number;
  /** The host's instrumentation scope; {@link SCOPE} without one. */
  readonly scope?: Scope;
}

/** A record on a lane, with the resource of the host it came from: what the serialisers group by. */
export interface LaneItem<E> {
  readonly entry: E;
  readonly resource: Resource;
}

/**
 * Epoch milliseconds as OpenTelemetry's [seconds, nanoseconds]: the time the SDK would hold for
 * them, which its serialisers write and the lanes' write alike.
 */
export function hrTimeOf(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.min(999_999_999, Math.round((ms - seconds * 1000) * 1e6));
  return [seconds, nanos];
}

/** OTLP's `Span.SpanKind` numbers. */
export const SPAN_KIND_NUMBERS: Readonly<Record<SpanKindName, number>> = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };
/** OTLP's `Status.StatusCode` numbers. */
export const STATUS_CODE_NUMBERS: Readonly<Record<WireStatusCode, number>> = { unset: 0, ok: 1, error: 2 };

/**
 * Random ids are cut from 4 KiB of random bytes, drawn and written as hex at once: a span costs
 * neither a system call nor a conversion of its own, only a slice of that text (which V8 makes
 * without copying it). Each id's 16 or 32 digits keep the 8 KiB text alive while the id lives.
 */
const POOL = Buffer.alloc(4096);
let poolHex = '';
let poolAt = 0;
const ALL_ZERO: Readonly<Record<number, string>> = { 16: '0'.repeat(16), 32: '0'.repeat(32) };

function randomHex(digits: 16 | 32): string {
  for (;;) {
    if (poolAt + digits > poolHex.length) {
      process.getBuiltinModule('node:crypto').randomFillSync(POOL);
      poolHex = POOL.toString('hex');
      poolAt = 0;
    }
    const hex = poolHex.slice(poolAt, poolAt + digits);
    poolAt += digits;
    // All zero is not a valid W3C id; vanishingly rare, but then draw again.
    if (hex !== ALL_ZERO[digits]) return hex;
  }
}

/** A new W3C trace id (32 hex digits, not all zero). */
export const newTraceId = (): string => randomHex(32);
/** A new W3C span id (16 hex digits, not all zero). */
export const newSpanId = (): string => randomHex(16);

/** The last tracestate written and what it became: the spans of a turn carry the same one. */
let lastTraceState: { readonly value: string; readonly text: string } = { value: '', text: '' };

/**
 * A tracestate as the SDK writes it from its `TraceState` (members trimmed, the first of a
 * repeated key kept, at most 32), or undefined for none.
 */
export function traceStateText(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (lastTraceState.value !== value) lastTraceState = { value, text: new TraceState(value).serialize() };
  return lastTraceState.text;
}

/**
 * Items by resource, then by scope name and version, each group in the order its first item
 * came: one `Resource…` per resource and one `Scope…` per scope in an export request.
 */
export function groupByResourceAndScope<E>(items: readonly LaneItem<E>[], scopeOf: (entry: E) => Scope): Map<Resource, Map<string, E[]>> {
  const byResource = new Map<Resource, Map<string, E[]>>();
  for (const { entry, resource } of items) {
    let byScope = byResource.get(resource);
    if (byScope === undefined) byResource.set(resource, (byScope = new Map()));
    const scope = scopeOf(entry);
    const key = scope === SCOPE ? '' : `${scope.name}\u0000${scope.version ?? ''}`;
    const list = byScope.get(key);
    if (list === undefined) byScope.set(key, [entry]);
    else list.push(entry);
  }
  return byResource;
}

/**
 * A session event's log record, in the context of its span (or its caller's), so the two
 * correlate: `traceId`, `spanId` and `flags` are all given or none is. Every record of this kind
 * has the same shape.
 */
export function eventLogEntry(name: string, timeMs: number, attributes: Attributes, lead: Readonly<Record<string, string>> | undefined, traceId: string | undefined, spanId: string | undefined, flags: number | undefined): LogEntry {
  return { timeMs, observedMs: timeMs, severityNumber: 9, severityText: 'INFO', body: name, eventName: name, attributes, lead, traceId, spanId, flags, scope: SCOPE };
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
  /** Its attributes after {@link lead}, or all of them without one. */
  readonly attributes: Attributes;
  /**
   * What its attributes begin with: an event's session context, the same object for every event
   * of the session, held by reference and not copied into each record's `attributes` (none of
   * whose keys is one of its). The serialisers write it once and copy it after that.
   */
  readonly lead?: Readonly<Record<string, string>> | undefined;
  /** The span it was recorded in, if any: 32 and 16 hex digits, and the trace flags. */
  readonly traceId?: string;
  readonly spanId?: string;
  readonly flags?: number;
  readonly scope: Scope;
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

/** Weights of leads (session contexts), by the lead: each is weighed once. */
const leadWeights = new WeakMap<object, number>();

/** {@link attributesWeight} of a lead, weighed the first time; 0 without one. */
export function leadWeight(lead: Readonly<Record<string, string>> | undefined): number {
  if (lead === undefined) return 0;
  let weight = leadWeights.get(lead);
  if (weight === undefined) leadWeights.set(lead, (weight = attributesWeight(lead)));
  return weight;
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
