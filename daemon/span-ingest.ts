/**
 * Ingests `trace/span` batches: finished spans a host made itself. Each keeps the host's ids,
 * kind, times, status, events and links, so its tree arrives exactly as the host built it; the
 * daemon applies the same privacy rules to its attributes as to a session event's span.
 *
 *   span --> check (protocol/) --> session context (with a sessionId) --> privacy: log-only
 *        fields off the span, its events and links (counted) --> trace lane, under the host's resource
 */
import type { Attributes } from '@opentelemetry/api';

import { BATCH_REJECTION, checkSpanBatch, type EventAttributes, type HostSpan, logOnlyFields, spanCount, upsertTracestate } from '../protocol/index.js';
import type { EventSource } from './event-ingest.js';
import type { EventPolicy } from './event-split.js';
import { type EventLanes, MAX_LANE_CHARS, MAX_LANE_QUEUE } from './event-lanes.js';
import type { SpanEntry } from './lane-records.js';
import { batchRefused, type IngestOutcome } from './metric-ingest.js';
import type { HostResource } from './host-resources.js';
import type { Session } from './session-registry.js';
import type { SignalStats } from './stats.js';

export interface SpanIngestOptions {
  readonly lanes: EventLanes;
  readonly traceStats: SignalStats;
  /** Read per batch: a reload of the config may change it. */
  readonly policy: () => EventPolicy;
}

/** What the daemon did to host-made spans on their way to the trace lane, for `daemon/status`. */
export interface SpanIngestCounts {
  /** Fields the catalog keeps to logs, taken off spans, span events and links, by field name. */
  readonly laneOverrides: Readonly<Record<string, number>>;
  /** Spans that came with a `sessionId` and got its context. */
  readonly withSession: number;
}

export interface SpanIngest {
  /** `received` and `accepted` count spans. */
  ingest(params: unknown, source: EventSource): IngestOutcome;
  /** Counts every span of a batch that is not taken in (the daemon is stopping, or over its memory limit) as dropped. */
  dropAll(params: unknown, reason: 'shutting_down' | 'memory_limited'): void;
  /**
   * Takes spans an OpenTelemetry SDK exported over OTLP (daemon/otlp/): each under its own
   * resource and scope, as sent; the daemon adds nothing (no session context, no configured
   * span attributes or tracestate: the sender applied its own) and takes the catalog's log-only
   * fields off, as for every span. `malformed` spans the decoder refused are counted here.
   */
  ingestOtlp(resources: readonly { readonly resource: HostResource; readonly scopes: readonly { readonly scope: { readonly name: string; readonly version?: string }; readonly items: readonly SpanEntry[] }[] }[], malformed: number): { accepted: number; refused: number };
  counts(): SpanIngestCounts;
}

export function createSpanIngest(options: SpanIngestOptions): SpanIngest {
  const { lanes, traceStats } = options;
  const logOnly = logOnlyFields();
  const laneOverrides = new Map<string, number>();
  let withSession = 0;

  /** The attributes a span may carry: all but the fields the catalog keeps to logs, which are counted. */
  function traceSafe(attributes: EventAttributes | undefined, into: Attributes = {}): Attributes {
    for (const key in attributes) {
      if (logOnly.has(key)) laneOverrides.set(key, (laneOverrides.get(key) ?? 0) + 1);
      else into[key] = attributes[key];
    }
    return into;
  }

  /** The span as the lane takes it: defaults filled in, context joined, privacy applied. */
  function entryOf(span: HostSpan, session: Session | undefined, clientName: string | null, policy: EventPolicy): SpanEntry {
    // The configured span attributes first, then the session's context, then the host's own;
    // what the daemon adds on purpose (which session, which client) comes last.
    const attributes: Attributes = { ...policy.spanAttributes };
    if (session !== undefined) {
      // The session's log-only context (account, email) is kept off as it is for its events:
      // where it belongs, not something a host put in the wrong place, so not counted.
      for (const key in session.attributes) if (!logOnly.has(key)) attributes[key] = session.attributes[key];
    }
    traceSafe(span.attributes, attributes);
    if (session !== undefined) {
      attributes['session.id'] = session.id;
      if (clientName !== null) attributes['client.name'] = clientName;
    }
    const tracestate = upsertTracestate(span.tracestate ?? null, policy.tracestate);
    return {
      traceId: span.traceId,
      spanId: span.spanId,
      ...(span.parentSpanId === undefined ? {} : { parentSpanId: span.parentSpanId }),
      name: span.name,
      kind: span.kind ?? 'internal',
      startMs: span.startTime,
      endMs: span.endTime,
      status: span.status === undefined ? { code: 'unset' } : span.status.message === undefined ? { code: span.status.code } : { code: span.status.code, message: span.status.message },
      attributes,
      events: (span.events ?? []).map((event) => ({ name: event.name, time: event.time, attributes: traceSafe(event.attributes) })),
      links: (span.links ?? []).map((link) => ({
        traceId: link.traceId,
        spanId: link.spanId,
        ...(link.tracestate === undefined ? {} : { tracestate: link.tracestate }),
        ...(link.flags === undefined ? {} : { flags: link.flags }),
        attributes: traceSafe(link.attributes),
      })),
      ...(tracestate === null ? {} : { tracestate }),
      flags: span.flags ?? 1,
      ...(span.scope === undefined ? {} : { scope: span.scope.version === undefined ? { name: span.scope.name } : { name: span.scope.name, version: span.scope.version } }),
    };
  }

  return {
    ingest(params, source) {
      const checked = checkSpanBatch(params);
      const received = checked.ok ? checked.value.received : spanCount(params);
      traceStats.received(received);
      if (!checked.ok) {
        traceStats.rejected(BATCH_REJECTION, received);
        return batchRefused(checked, received);
      }
      const { items: spans, rejected, dropped } = checked.value;
      for (const [reason, count] of dropped) traceStats.dropped(`client_${reason.replace(/^client_/, '')}`, count);
      const policy = options.policy();
      let accepted = 0;
      for (const { index, item: span } of spans) {
        const session = span.sessionId === undefined ? undefined : source.sessions.use(span.sessionId);
        if (span.sessionId !== undefined && session === undefined && source.unknownSession === 'reject') {
          rejected.push({ index, code: 'unknown_session', message: `spans[${index}].sessionId: no session ${JSON.stringify(span.sessionId)}; start it with session/start` });
          continue;
        }
        if (session !== undefined) withSession++;
        const outcome = lanes.emitSpan(entryOf(span, session, source.clientName, policy), source.resource);
        if (outcome.full) {
          rejected.push({ index, code: 'queue_full', message: `spans[${index}]: the daemon's trace lane is full (${MAX_LANE_QUEUE} spans or ${MAX_LANE_CHARS} characters waiting); send it again later` });
          continue;
        }
        // A span not sampled is counted (`not_sampled`) and, like a sampled one, done with.
        accepted++;
      }
      if (rejected.length > 0) {
        rejected.sort((a, b) => a.index - b.index);
        // A lane's refusal for want of room is counted by the lane (dropped `queue_full`).
        for (const rejection of rejected) if (rejection.code !== 'queue_full') traceStats.rejected(rejection.code);
      }
      return { ok: true, received, result: { accepted, rejected } };
    },
    dropAll(params, reason) {
      traceStats.dropped(reason, spanCount(params));
    },
    ingestOtlp(resources, malformed) {
      let received = malformed;
      for (const { scopes } of resources) for (const { items } of scopes) received += items.length;
      traceStats.received(received);
      if (malformed > 0) traceStats.rejected('invalid_span', malformed);
      let accepted = 0;
      let refused = 0;
      for (const { resource, scopes } of resources) {
        for (const { scope, items } of scopes) {
          for (const span of items) {
            const entry: SpanEntry = {
              ...span,
              attributes: traceSafe(span.attributes as EventAttributes),
              events: span.events.map((event) => ({ ...event, attributes: traceSafe(event.attributes as EventAttributes) })),
              links: span.links.map((link) => ({ ...link, attributes: traceSafe(link.attributes as EventAttributes) })),
              scope,
            };
            if (lanes.emitSpan(entry, resource).full) refused++;
            else accepted++;
          }
        }
      }
      return { accepted, refused };
    },
    counts: () => ({ laneOverrides: Object.fromEntries(laneOverrides), withSession }),
  };
}
