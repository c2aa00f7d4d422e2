/**
 * Ingests `session/event` batches: check each event, split it between the lanes with its
 * session's context and the privacy rules (event-split.ts), emit one log record and one span,
 * and record the metrics the catalog derives from it.
 *
 *   event --> session context --> lanes by catalog --> log lane: every field, redacted
 *                                                 \--> trace lane: common and trace-safe only
 *         --> derived metrics (codex.tool.call, ...) --> metric ingest
 */
import {
  type AttributeValue,
  BATCH_REJECTION,
  checkEventBatch,
  type EventCounts,
  eventCount,
  isValidTracestate,
  measurementsIn,
  type MetricRecord,
  parseTraceparent,
  type SessionEvent,
  type TraceParent,
  upsertTracestate,
} from '../protocol/index.js';
import { createDerivedSeries } from './derived-series.js';
import { type EventLanes, MAX_LANE_CHARS, MAX_LANE_QUEUE } from './event-lanes.js';
import { createEventMetrics } from './event-metrics.js';
import { createEventSplitter, type EventPolicy, timestampOf } from './event-split.js';
import type { HostResource } from './host-resources.js';
import { batchRefused, type IngestOutcome } from './metric-ingest.js';
import type { Session, SessionRegistry } from './session-registry.js';
import type { SignalStats } from './stats.js';

export interface EventSource {
  readonly sessions: SessionRegistry;
  /** `clientInfo.name` of the sending connection, or null. */
  readonly clientName: string | null;
  /** As for metrics: reject events of unknown sessions, or (hand-off files) keep them without context. */
  readonly unknownSession: 'reject' | 'untagged';
  /** The sending host's resource: its events are exported under it. */
  readonly resource: HostResource;
}

export interface EventIngestOptions {
  readonly lanes: EventLanes;
  readonly logStats: SignalStats;
  readonly traceStats: SignalStats;
  /** Read per event: a reload of the config may change it. */
  readonly policy: () => EventPolicy;
  /** Ingests the derived metric records (as a `metric/record` batch from the same source). */
  readonly recordDerived: (records: MetricRecord[], source: EventSource) => void;
  /** A failed tool call's error, for `tools/metrics`. */
  readonly toolError: (tool: string, message: string) => void;
  /** Each accepted event as one line of text (its own fields as the log lane has them, redacted), for feedback logs. */
  readonly logLine?: (sessionId: string, line: string) => void;
}

/** As for metrics; `received` counts events. */
export type EventIngestOutcome = IngestOutcome;

export interface EventIngest {
  ingest(params: unknown, source: EventSource): EventIngestOutcome;
  /** Counts every event of a batch that is not taken in (the daemon is stopping, or over its memory limit) as dropped. */
  dropAll(params: unknown, reason: 'shutting_down' | 'memory_limited'): void;
  counts(): EventCounts;
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  if (typeof value === 'number') return value >= 0 ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
  }
  return undefined;
}

export function createEventIngest(options: EventIngestOptions): EventIngest {
  const { lanes, logStats, traceStats } = options;
  const splitter = createEventSplitter(options.policy);
  let invalidTraceContext = 0;
  let derivedMeasurements = 0;
  const metrics = createEventMetrics();
  /** The last `traceparent` parsed and what it gave: the events of a turn carry the same one. */
  let lastTraceparent: { readonly value: string; readonly parent: TraceParent | null } | null = null;

  /** The trace context of an event; a malformed one is counted and ignored. */
  function traceContext(event: SessionEvent): { parent: TraceParent | null; tracestate: string | null } {
    let parent: TraceParent | null = null;
    let invalid = false;
    if (event.traceparent !== undefined) {
      if (lastTraceparent?.value !== event.traceparent) lastTraceparent = { value: event.traceparent, parent: parseTraceparent(event.traceparent) };
      parent = lastTraceparent.parent;
      invalid = parent === null;
    }
    let tracestate: string | null = null;
    if (event.tracestate !== undefined) {
      if (isValidTracestate(event.tracestate)) tracestate = event.tracestate;
      else invalid = true;
    }
    if (invalid) invalidTraceContext++;
    // A root span has no propagated state; the configured members go into either.
    return { parent, tracestate: upsertTracestate(parent === null ? null : tracestate, options.policy().tracestate) };
  }

  function countBoth(count: (stats: SignalStats) => void): void {
    count(logStats);
    count(traceStats);
  }

  return {
    ingest(params, source) {
      const checked = checkEventBatch(params);
      const received = checked.ok ? checked.value.received : eventCount(params);
      countBoth((stats) => stats.received(received));
      if (!checked.ok) {
        countBoth((stats) => stats.rejected(BATCH_REJECTION, received));
        return batchRefused(checked, received);
      }
      const { items: events, rejected, dropped } = checked.value;
      for (const [reason, count] of dropped) countBoth((stats) => stats.dropped(`client_${reason.replace(/^client_/, '')}`, count));
      const derived = createDerivedSeries();
      let accepted = 0;
      // The events of a batch mostly share a session: it is looked up (and marked used) when the id changes.
      let sessionId: string | undefined;
      let session: Session | undefined;
      for (const { index, item: event } of events) {
        if (event.sessionId !== sessionId) {
          sessionId = event.sessionId;
          session = source.sessions.use(sessionId);
        }
        if (session === undefined && source.unknownSession === 'reject') {
          rejected.push({ index, code: 'unknown_session', message: `events[${index}].sessionId: no session ${JSON.stringify(event.sessionId)}; start it with session/start` });
          continue;
        }
        const time = event.time ?? Date.now();
        const { log, span, all, fields, context, spanContext } = splitter.split(event, time, session, source.clientName);
        if (options.logLine !== undefined) {
          options.logLine(event.sessionId, `${timestampOf(time)} ${event.name} ${JSON.stringify(fields)}`);
        }
        const durationMs = event.durationMs ?? numberOf(all.duration_ms);
        const { parent, tracestate } = traceContext(event);
        const outcome = lanes.emit({ name: event.name, timeMs: time, durationMs: durationMs ?? 0, logAttributes: log, spanAttributes: span, parent, tracestate, resource: source.resource, context, spanContext });
        if (outcome.full) {
          // A request learns it, to send the event again later; its metrics are not derived, so
          // that doing so does not count them twice.
          rejected.push({ index, code: 'queue_full', message: `events[${index}]: the daemon's event lanes are full (${MAX_LANE_QUEUE} records or ${MAX_LANE_CHARS} characters waiting); send it again later` });
          continue;
        }
        accepted++;
        metrics.derive(event, all, durationMs, time, derived);
      }
      if (rejected.length > 0) {
        rejected.sort((a, b) => a.index - b.index);
        // A lane's refusal for want of room is counted by the lane (dropped `queue_full`).
        for (const rejection of rejected) if (rejection.code !== 'queue_full') countBoth((stats) => stats.rejected(rejection.code));
      }
      const records = derived.take();
      if (records.length > 0) {
        derivedMeasurements += measurementsIn(records);
        options.recordDerived(records, source);
      }
      for (const [tool, message] of metrics.takeToolErrors()) options.toolError(tool, message);
      return { ok: true, received, result: { accepted, rejected } };
    },
    dropAll(params, reason) {
      const count = eventCount(params);
      countBoth((stats) => stats.dropped(reason, count));
    },
    counts: () => ({
      ...splitter.counts(),
      invalidTraceContext,
      derivedMeasurements,
      derivationsMissed: metrics.missed(),
    }),
  };
}

