/**
 * Ingests `session/event` batches: check each event, add its session's context, split its
 * fields between the lanes by the catalog, redact what the config does not allow, emit one log
 * record and one span, and record the metrics the catalog derives from it. The privacy rules
 * live here, in one place, for every client.
 *
 *   event --> session context --> lanes by catalog --> log lane: every field, redacted
 *                                                 \--> trace lane: common and trace-safe only
 *         --> derived metrics (codex.tool.call, ...) --> metric ingest
 */
import type { Attributes } from '@opentelemetry/api';

import {
  type AttributeValue,
  BATCH_REJECTION,
  checkEventBatch,
  type EventAttributes,
  type EventCounts,
  eventCount,
  isValidTracestate,
  logOnlyFields,
  measurementsIn,
  type MetricRecord,
  parseTraceparent,
  type Redaction,
  redactedFields,
  type SessionEvent,
  type TraceParent,
  type TracestateFields,
  upsertTracestate,
} from '../protocol/index.js';
import { createDerivedSeries } from './derived-series.js';
import { type EventLanes, MAX_LANE_CHARS, MAX_LANE_QUEUE } from './event-lanes.js';
import { createEventMetrics } from './event-metrics.js';
import type { HostResource } from './host-resources.js';
import { batchRefused, type IngestOutcome } from './metric-ingest.js';
import type { Session, SessionRegistry } from './session-registry.js';
import type { SignalStats } from './stats.js';

/** What replaces a value the config does not allow on the log lane. */
export const REDACTED = '[REDACTED]';

export interface EventPolicy {
  /** `[otel] log_user_prompt`; a session must allow it too (`logUserPrompt`). */
  readonly logUserPrompt: boolean;
  /** `[codexd] log_tool_content`: tool arguments and output. */
  readonly logToolContent: boolean;
  /** `[otel] span_attributes`: set on every span, under the event's own attributes. */
  readonly spanAttributes: Readonly<Record<string, string>>;
  /** `[otel.tracestate.<member>]`: upserted into every span's tracestate. */
  readonly tracestate: TracestateFields;
}

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

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function numberOf(value: AttributeValue | undefined): number | undefined {
  if (typeof value === 'number') return value >= 0 ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
  }
  return undefined;
}

/**
 * An event's time as Codex writes `event.timestamp`: RFC 3339 UTC with milliseconds
 * (chrono's `to_rfc3339_opts(SecondsFormat::Millis, true)`). The protocol bounds `time` to what
 * a `Date` holds (`MAX_TIME_MS`), so this does not throw. The last one made is kept: the events
 * of a batch mostly share their millisecond, and formatting a `Date` costs about a microsecond.
 */
function timestampOf(ms: number): string {
  const whole = Math.trunc(ms);
  if (whole !== lastStamp.ms) lastStamp = { ms: whole, text: new Date(whole).toISOString() };
  return lastStamp.text;
}
let lastStamp = { ms: Number.NaN, text: '' };

/** The keys the daemon sets on every event's attributes, over any of its session's. */
const DAEMON_KEYS = ['session.id', 'client.name', 'event.name', 'event.timestamp'] as const;

/** Whether a key of the event's own is also one of `context`'s. */
function refines(event: SessionEvent, context: Readonly<Record<string, string>>): boolean {
  for (const key in event.attributes) if (key in context) return true;
  for (const key in event.traceSafe) if (key in context) return true;
  for (const key in event.logOnly) if (key in context) return true;
  return false;
}

/** True when `attributes` has no key. */
function isEmpty(attributes: Readonly<Record<string, unknown>>): boolean {
  for (const _ in attributes) return false;
  return true;
}

export function createEventIngest(options: EventIngestOptions): EventIngest {
  const { lanes, logStats, traceStats } = options;
  const logOnly = logOnlyFields();
  /** The fields the log lane redacts, as a list: an event's attributes are looked up for these few, not each of them here. */
  const redactionList = [...redactedFields()];
  const laneOverrides = new Map<string, number>();
  const redacted = new Map<string, number>();
  let invalidTraceContext = 0;
  let derivedMeasurements = 0;
  const metrics = createEventMetrics();
  function allowed(redaction: Redaction, session: Session | undefined): boolean {
    const policy = options.policy();
    return redaction === 'user_prompt' ? policy.logUserPrompt && session?.logUserPrompt === true : policy.logToolContent;
  }

  /** A session's context as the trace lane has it: without what the catalog keeps to logs. */
  const spanContexts = new WeakMap<Session, Readonly<Record<string, string>>>();
  function spanContextOf(session: Session): Readonly<Record<string, string>> {
    let context = spanContexts.get(session);
    if (context === undefined) {
      const kept: Record<string, string> = {};
      for (const key in session.attributes) if (!logOnly.has(key)) kept[key] = session.attributes[key] as string;
      spanContexts.set(session, (context = kept));
    }
    return context;
  }

  /**
   * Sessions whose context is copied into each event's attributes instead of leading them by
   * reference: it holds a key the daemon sets on every event, or one the log lane redacts.
   */
  const copiedContexts = new WeakMap<Session, boolean>();
  function contextCopied(session: Session): boolean {
    let copied = copiedContexts.get(session);
    if (copied === undefined) {
      copied = DAEMON_KEYS.some((key) => key in session.attributes) || redactionList.some(([key]) => key in session.attributes);
      copiedContexts.set(session, copied);
    }
    return copied;
  }

  /**
   * The log lane's and the trace lane's attributes of one event, each after its lead (see
   * LaneEntry): the session's context leads them by reference unless the event refines it (a key
   * of its own is one of the context's, as a model that changed mid-session). Then the context
   * is copied in first, and the event's value takes the key's place in its order.
   */
  function split(event: SessionEvent, time: number, session: Session | undefined, clientName: string | null): { log: Attributes; span: Attributes; all: EventAttributes; fields: Attributes; context: Readonly<Record<string, string>> | undefined; spanContext: Readonly<Record<string, string>> | undefined } {
    const led = session !== undefined && !contextCopied(session) && !refines(event, session.attributes);
    const context = led ? session.attributes : undefined;
    const log: Attributes = session === undefined || led ? {} : { ...session.attributes };
    // The configured span attributes first: the session's and the event's own win over them.
    const spanAttributes = options.policy().spanAttributes;
    let spanContext: Readonly<Record<string, string>> | undefined;
    let span: Attributes;
    if (session === undefined) span = { ...spanAttributes };
    else if (!isEmpty(spanAttributes)) span = { ...spanAttributes, ...spanContextOf(session) };
    else if (led) {
      span = {};
      spanContext = spanContextOf(session);
    } else span = { ...spanContextOf(session) };
    const all: Record<string, AttributeValue> = {};
    // A field the catalog keeps to logs stays off the trace lane whatever bag it came in.
    const both = (bag: EventAttributes | undefined): void => {
      for (const key in bag) {
        const value = bag[key] as AttributeValue;
        all[key] = log[key] = value;
        if (!logOnly.has(key)) span[key] = value;
        else bump(laneOverrides, key);
      }
    };
    both(event.attributes);
    both(event.traceSafe);
    for (const key in event.logOnly) all[key] = log[key] = event.logOnly[key] as AttributeValue;
    // What the daemon adds comes last: an event may refine its session's context (a model that
    // changed mid-session), never say which session or client it came from.
    log['session.id'] = span['session.id'] = event.sessionId;
    if (clientName !== null) log['client.name'] = span['client.name'] = clientName;
    log['event.name'] = span['event.name'] = event.name;
    // Codex stamps both lanes (its `log_event` and `trace_event` macros): a timestamp is
    // content-free. A host's own stamp stays on the lanes it sent it to; elsewhere the event's
    // time goes, over any a session carries, which cannot know when the event happened.
    const stamp = timestampOf(time);
    if (all['event.timestamp'] === undefined) log['event.timestamp'] = stamp;
    if (event.attributes?.['event.timestamp'] === undefined && event.traceSafe?.['event.timestamp'] === undefined) span['event.timestamp'] = stamp;
    // The event's own fields, as the log lane has them: `all` unless one of them was redacted.
    let fields: Attributes = all;
    for (let i = 0; i < redactionList.length; i++) {
      const [key, redaction] = redactionList[i] as [string, Redaction];
      if (log[key] === undefined || allowed(redaction, session)) continue;
      log[key] = REDACTED;
      bump(redacted, key);
      if (fields === all && key in all) fields = {};
    }
    if (fields !== all) for (const key in all) fields[key] = log[key];
    return { log, span, all, fields, context, spanContext };
  }

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
        const { log, span, all, fields, context, spanContext } = split(event, time, session, source.clientName);
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
      laneOverrides: Object.fromEntries(laneOverrides),
      redacted: Object.fromEntries(redacted),
      invalidTraceContext,
      derivedMeasurements,
      derivationsMissed: metrics.missed(),
    }),
  };
}

