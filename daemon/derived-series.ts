/**
 * The metrics a batch of events derives, gathered by series before they are recorded: each series
 * once, its measurements in `values` (a histogram's observations; a counter's increments, which
 * the pipeline adds at once). Recorded one by one, every event's two measurements each cost a
 * record to tag with its session, to journal and to hash into the SDK's aggregation; a batch of
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
  /** Series by session, then by name and tags: a batch's events mostly come from one session. */
  const bySession = new Map<string, Map<string, Series>>();
  /** Measurements added, for their order. */
  let added = 0;
  return {
    add(sessionId, time, name, kind, value, tags) {
      let series = bySession.get(sessionId);
      if (series === undefined) bySession.set(sessionId, (series = new Map()));
      // A metric has one kind (the pipeline refuses another); tag keys and values are sanitised
      // (they hold no control character).
      let key = name;
      for (const tag in tags) key += `\u0000${tag}\u0001${tags[tag]}`;
      let one = series.get(key);
      if (one === undefined) series.set(key, (one = { name, kind, sessionId, time, tags, values: [], last: 0 }));
      one.values.push(value);
      one.last = added++;
    },
    take() {
      const all: Series[] = [];
      for (const series of bySession.values()) for (const one of series.values()) all.push(one);
      return all
        .sort((a, b) => a.last - b.last)
        .map(({ name, kind, sessionId, time, tags, values }) => (values.length === 1 ? { sessionId, time, name, kind, value: values[0] as number, tags } : { sessionId, time, name, kind, values, tags }));
    },
  };
}
