/**
 * The metrics a batch of events derives, gathered by series before they are recorded: each series
 * once, its measurements in `values` (a histogram's observations; a counter's increments, which
 * the pipeline adds at once). Recorded one by one, every event's two measurements each cost a
 * record to tag with its session, to journal and to find its series for; a batch of
 * 250 tool results makes a handful of series. Each measurement still counts as one.
 *
 * A measurement is added as its parts, not as a record: no object is made for it unless it starts
 * a series (a batch's events mostly fall into series already started).
 *
 * Series go in the order of their latest measurement, and a histogram's values in theirs, so
 * what reads "the latest" (`tools/metrics`' last latency of a tool) reads the latest event's.
 */
import type { MetricKind, MetricRecord } from '../protocol/index.js';

interface Series {
  readonly name: string;
  readonly kind: MetricKind;
  readonly sessionId: string;
  /** The time of its first measurement, which the record carries. */
  readonly time: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly values: number[];
  last: number;
}

export interface DerivedSeries {
  /** Adds one measurement of a session's event; `tags` are kept by the series it starts, if it starts one. */
  add(sessionId: string, time: number, name: string, kind: MetricKind, value: number, tags: Readonly<Record<string, string>>): void;
  /** One record a series. */
  take(): MetricRecord[];
}

export function createDerivedSeries(): DerivedSeries {
  /**
   * Series by session, then by tag set, then by name: a batch's events mostly come from one
   * session, and the event ingest shares one tag set object among the events that have it, so
   * its key is made once a batch (`keys`), not once a measurement.
   */
  const bySession = new Map<string, Map<string, Map<string, Series>>>();
  const keys = new Map<Readonly<Record<string, string>>, string>();
  /** Measurements added, for their order. */
  let added = 0;
  return {
    add(sessionId, time, name, kind, value, tags) {
      let byTags = bySession.get(sessionId);
      if (byTags === undefined) bySession.set(sessionId, (byTags = new Map()));
      // A metric has one kind (the pipeline refuses another); tag keys and values are sanitised
      // (they hold no control character).
      let key = keys.get(tags);
      if (key === undefined) {
        key = '';
        for (const tag in tags) key += `\u0000${tag}\u0001${tags[tag]}`;
        keys.set(tags, key);
      }
      let byName = byTags.get(key);
      if (byName === undefined) byTags.set(key, (byName = new Map()));
      let one = byName.get(name);
      if (one === undefined) byName.set(name, (one = { name, kind, sessionId, time, tags, values: [], last: 0 }));
      one.values.push(value);
      one.last = added++;
    },
    take() {
      const all: Series[] = [];
      for (const byTags of bySession.values()) for (const byName of byTags.values()) for (const one of byName.values()) all.push(one);
      return all
        .sort((a, b) => a.last - b.last)
        .map(({ name, kind, sessionId, time, tags, values }) => (values.length === 1 ? { sessionId, time, name, kind, value: values[0] as number, tags } : { sessionId, time, name, kind, values, tags }));
    },
  };
}
