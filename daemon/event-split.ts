/**
 * How a session event's fields go to the two lanes: its session's context first, then its own
 * fields split by the catalog (the trace lane gets the common and trace-safe ones only), then
 * what the daemon adds; on the log lane, what the config does not allow is redacted. The privacy
 * rules live here, in one place, for every client (event-ingest.ts applies them to events,
 * log-ingest.ts and span-ingest.ts to what senders export).
 */
import type { Attributes } from '@opentelemetry/api';

import { type AttributeValue, type EventAttributes, logOnlyFields, type Redaction, redactedFields, type SessionEvent, type TracestateFields } from '../protocol/index.js';
import type { Session } from './session-registry.js';

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

/** An event's attributes on each lane, each after its lead (see LaneEntry), and its own fields. */
export interface EventSplit {
  readonly log: Attributes;
  readonly span: Attributes;
  /** The event's own fields, as it sent them. */
  readonly all: EventAttributes;
  /** The event's own fields as the log lane has them: `all`, unless one of them was redacted. */
  readonly fields: Attributes;
  /** What the log attributes begin with: the session's context, unless it was copied in. */
  readonly context: Readonly<Record<string, string>> | undefined;
  /** What the span attributes begin with: the session's context as the trace lane has it. */
  readonly spanContext: Readonly<Record<string, string>> | undefined;
}

export interface EventSplitter {
  split(event: SessionEvent, time: number, session: Session | undefined, clientName: string | null): EventSplit;
  /** Fields sent for both lanes that the catalog kept to logs, and fields redacted, by name. */
  counts(): { readonly laneOverrides: Record<string, number>; readonly redacted: Record<string, number> };
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/**
 * An event's time as Codex writes `event.timestamp`: RFC 3339 UTC with milliseconds
 * (chrono's `to_rfc3339_opts(SecondsFormat::Millis, true)`). The protocol bounds `time` to what
 * a `Date` holds (`MAX_TIME_MS`), so this does not throw. The last one made is kept: the events
 * of a batch mostly share their millisecond, and formatting a `Date` costs about a microsecond.
 */
export function timestampOf(ms: number): string {
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

/** `policy` is read per event: a reload of the config may change it. */
export function createEventSplitter(policy: () => EventPolicy): EventSplitter {
  const logOnly = logOnlyFields();
  /** The fields the log lane redacts, as a list: an event's attributes are looked up for these few, not each of them here. */
  const redactionList = [...redactedFields()];
  const laneOverrides = new Map<string, number>();
  const redacted = new Map<string, number>();
  function allowed(redaction: Redaction, session: Session | undefined): boolean {
    const current = policy();
    return redaction === 'user_prompt' ? current.logUserPrompt && session?.logUserPrompt === true : current.logToolContent;
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
  function split(event: SessionEvent, time: number, session: Session | undefined, clientName: string | null): EventSplit {
    const led = session !== undefined && !contextCopied(session) && !refines(event, session.attributes);
    const context = led ? session.attributes : undefined;
    const log: Attributes = session === undefined || led ? {} : { ...session.attributes };
    // The configured span attributes first: the session's and the event's own win over them.
    const spanAttributes = policy().spanAttributes;
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

  return {
    split,
    counts: () => ({ laneOverrides: Object.fromEntries(laneOverrides), redacted: Object.fromEntries(redacted) }),
  };
}
