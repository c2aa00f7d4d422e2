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
  const { spanAttributes: span, logAttributes: log } = entry;
  let context = entry.context;
  // A context key the log attributes lack would come back with the context: written whole.
  if (context !== undefined) {
    for (const key in context) {
      if (!(key in log)) {
        context = undefined;
        break;
      }
    }
  }
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
  const journaled: { -readonly [K in keyof JournaledEntry]: JournaledEntry[K] } = { name: entry.name, timeMs: entry.timeMs, durationMs: entry.durationMs, logAttributes: logOwn, parent: entry.parent, tracestate: entry.tracestate };
  if (omits.length > 0) journaled.spanOmits = omits;
  if (own !== undefined) journaled.spanOwn = own;
  return context === undefined ? { journaled } : { journaled, context };
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
