/**
 * The lanes' plain records (SpanEntry, LogEntry) as the OpenTelemetry SDK's ReadableSpan and
 * ReadableLogRecord: what the SDK's own OTLP serialisers take, so that tests can compare the
 * daemon's serialisers with them byte for byte.
 */
import { type HrTime, type Link, SeverityNumber, type SpanContext, SpanKind, SpanStatusCode, TraceFlags } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

import { hrTimeOf, type LaneItem, type LogEntry, SCOPE, type SpanEntry } from '../../daemon/lane-records.js';
import type { SpanKindName, SpanStatusCode as WireStatusCode } from '../../protocol/index.js';

const KINDS: Readonly<Record<SpanKindName, SpanKind>> = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };
const STATUS: Readonly<Record<WireStatusCode, SpanStatusCode>> = { unset: SpanStatusCode.UNSET, ok: SpanStatusCode.OK, error: SpanStatusCode.ERROR };

function durationOf(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds--;
    nanos += 1e9;
  }
  return [seconds, nanos];
}

function traceStateOf(value: string | undefined): TraceState | undefined {
  return value === undefined || value === '' ? undefined : new TraceState(value);
}

/**
 * One scope object per name and version: the SDK's serialisers group log records by the scope
 * object, the daemon's by name and version, and these records must group alike.
 */
const scopes = new Map<string, { readonly name: string; readonly version?: string }>();
function scopeOf(scope: { readonly name: string; readonly version?: string }): { readonly name: string; readonly version?: string } {
  if (scope === SCOPE) return SCOPE;
  const key = `${scope.name}@${scope.version ?? ''}`;
  let kept = scopes.get(key);
  if (kept === undefined) scopes.set(key, (kept = scope.version === undefined ? { name: scope.name } : { name: scope.name, version: scope.version }));
  return kept;
}

/** A span entry as the SDK's ReadableSpan. */
export function readableSpan({ entry, resource }: LaneItem<SpanEntry>): ReadableSpan {
  const traceState = traceStateOf(entry.tracestate);
  const context: SpanContext = traceState === undefined ? { traceId: entry.traceId, spanId: entry.spanId, traceFlags: entry.flags } : { traceId: entry.traceId, spanId: entry.spanId, traceFlags: entry.flags, traceState };
  const startTime = hrTimeOf(entry.startMs);
  const endTime = hrTimeOf(entry.endMs);
  const links: Link[] = entry.links.map((link) => {
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
    // The SDK's record holds them all: the lead's, then the entry's own.
    attributes: entry.lead === undefined ? entry.attributes : { ...entry.lead, ...entry.attributes },
    links,
    events: entry.events.map((event) => ({ name: event.name, time: hrTimeOf(event.time), attributes: event.attributes })),
    duration: durationOf(startTime, endTime),
    ended: true,
    resource,
    instrumentationScope: scopeOf(entry.scope ?? SCOPE),
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A log entry as the SDK's ReadableLogRecord (a time of 0, unknown, as the observed time). */
export function readableLogRecord({ entry, resource }: LaneItem<LogEntry>): ReadableLogRecord {
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
    instrumentationScope: scopeOf(entry.scope),
    attributes: entry.lead === undefined ? entry.attributes : { ...entry.lead, ...entry.attributes },
    droppedAttributesCount: 0,
  } as ReadableLogRecord;
}
