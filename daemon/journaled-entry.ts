/**
 * Lane entries as the journal keeps them, and back: an event's span attributes as how they differ
 * from its log record's, and its log attributes as how they differ from its session's context,
 * which the journal declares once a file (delivery/journal.ts).
 */
import type { Attributes } from '@opentelemetry/api';

import type { LaneEntry } from './event-lanes.js';
import type { HostResource } from './host-resources.js';

/**
 * A lane entry as the journal keeps it: the span's attributes are mostly the log record's, so
 * only how they differ is written (keys the span leaves out, values it has of its own), which
 * about halves what the journal writes per event. The resource goes by id, on the line, and so
 * does the session's context: the log attributes leave out what it holds (see {@link journaledEntry}).
 */
export interface JournaledEntry extends Omit<LaneEntry, 'spanAttributes' | 'resource' | 'context' | 'spanContext'> {
  /** Log attributes the span does not have. */
  readonly spanOmits?: readonly string[];
  /** Span attributes missing from the log record, or with another value there. */
  readonly spanOwn?: Attributes;
  /** An entry written whole (by an earlier version): taken as it is. */
  readonly spanAttributes?: Attributes;
}

/**
 * An entry as the journal writes it, and the session context it was written against, if any:
 * then its log attributes leave out every key whose value is the context's. The log attributes
 * begin with the context, in its order, so `{...context, ...rest}` gives them back in theirs.
 */
export function journaledEntry(entry: LaneEntry): { readonly journaled: JournaledEntry; readonly context?: Readonly<Record<string, string>> } {
  const { context, spanContext } = entry;
  if (context !== undefined && spanContext !== undefined) {
    const led = journaledByLeads(entry, context, spanContext);
    if (led !== null) return { journaled: led, context };
  }
  // Each lane's attributes whole (with its lead, when it has one), then how they differ.
  const log: Attributes = context === undefined ? entry.logAttributes : { ...context, ...entry.logAttributes };
  const span: Attributes = spanContext === undefined ? entry.spanAttributes : { ...spanContext, ...entry.spanAttributes };
  const omits: string[] = [];
  let own: Attributes | undefined;
  const logOwn: Attributes = context === undefined ? log : {};
  for (const key in log) {
    if (!(key in span)) omits.push(key);
    if (context !== undefined && log[key] !== context[key]) logOwn[key] = log[key];
  }
  for (const key in span) {
    if (log[key] !== span[key]) (own ??= {})[key] = span[key];
  }
  const journaled = entryWith(entry, logOwn, omits, own);
  return context === undefined ? { journaled } : { journaled, context };
}

function entryWith(entry: LaneEntry, logAttributes: Attributes, omits: readonly string[], own: Attributes | undefined): JournaledEntry {
  const journaled: { -readonly [K in keyof JournaledEntry]: JournaledEntry[K] } = { name: entry.name, timeMs: entry.timeMs, durationMs: entry.durationMs, logAttributes, parent: entry.parent, tracestate: entry.tracestate };
  if (omits.length > 0) journaled.spanOmits = omits;
  if (own !== undefined) journaled.spanOwn = own;
  return journaled;
}

/** What a session's context and its trace-lane view say of each other (by the view). */
interface ContextPair {
  readonly context: object;
  /** The context's keys the view leaves out, in the context's order. */
  readonly logOnly: readonly string[];
  /** Every key of the view is the context's, with the same value. */
  readonly agree: boolean;
}
const pairs = new WeakMap<object, ContextPair>();

function pairOf(context: Readonly<Record<string, string>>, spanContext: Readonly<Record<string, string>>): ContextPair {
  let pair = pairs.get(spanContext);
  if (pair === undefined || pair.context !== context) {
    const logOnly: string[] = [];
    for (const key in context) if (!(key in spanContext)) logOnly.push(key);
    let agree = true;
    for (const key in spanContext) if (spanContext[key] !== context[key]) agree = false;
    pairs.set(spanContext, (pair = { context, logOnly, agree }));
  }
  return pair;
}

/**
 * {@link journaledEntry} for an entry both of whose lanes are led by the session's context (the
 * log's by the context, the span's by its trace-lane view), as the event ingest makes them: the
 * same result, from each lane's own attributes alone, which no key of the context is among.
 * Null when the view departs from the context.
 */
function journaledByLeads(entry: LaneEntry, context: Readonly<Record<string, string>>, spanContext: Readonly<Record<string, string>>): JournaledEntry | null {
  const { spanAttributes: span, logAttributes: log } = entry;
  const pair = pairOf(context, spanContext);
  if (!pair.agree) return null;
  // The context's keys the view leaves out (the pair's own list, unless more are added), then
  // the log's own keys the span lacks.
  let omits: string[] | undefined;
  for (const key in log) if (!(key in span)) (omits ??= pair.logOnly.slice()).push(key);
  // The span's own keys that the log lacks or has with another value.
  let own: Attributes | undefined;
  for (const key in span) {
    if (log[key] !== span[key]) (own ??= {})[key] = span[key];
  }
  // The log's own attributes are what the journal writes after the context: the same object.
  return entryWith(entry, log, omits ?? pair.logOnly, own);
}

/** The lane entry a journaled one stands for; `context`, the session context it was written against. */
export function laneEntryOf(journaled: JournaledEntry, resource: HostResource, context?: Readonly<Record<string, unknown>>): LaneEntry {
  const { spanOmits, spanOwn, spanAttributes, ...rest } = journaled;
  const logAttributes = context === undefined ? journaled.logAttributes : ({ ...context, ...journaled.logAttributes } as Attributes);
  if (spanAttributes !== undefined) return { ...rest, logAttributes, spanAttributes, resource };
  const span: Attributes = { ...logAttributes };
  for (const key of spanOmits ?? []) delete span[key];
  return { ...rest, logAttributes, spanAttributes: { ...span, ...spanOwn }, resource };
}
