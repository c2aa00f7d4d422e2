/**
 * The metrics a batch of events derives, gathered by series before they are recorded: each series
 * once, its measurements in `values` (a histogram's observations; a counter's increments, which
 * the pipeline adds at once). Recorded one by one, every event's two measurements each cost a
 * record to tag with its session, to journal and to hash into the SDK's aggregation; a batch of
 * 250 tool results makes a handful of series. Each measurement still counts as one.
 *
 * Series go in the order of their latest measurement, and a histogram's values in theirs, so
 * what reads "the latest" (`tools/metrics`' last latency of a tool) reads the latest event's.
 */
import type { MetricRecord } from '../protocol/index.js';

interface Series {
  readonly record: MetricRecord;
  readonly values: number[];
  last: number;
}

export interface DerivedSeries {
  /** Adds one event's derived measurements. */
  add(records: readonly MetricRecord[]): void;
  /** One record a series. */
  take(): MetricRecord[];
}

export function createDerivedSeries(): DerivedSeries {
  const series = new Map<string, Series>();
  /** Measurements added, for their order. */
  let added = 0;
  return {
    add(records) {
      for (const record of records) {
        // A session id is the host's string (quoted, it holds no control character); tag keys
        // and values are sanitised (they hold none either).
        let key = `${record.name}\u0000${record.kind}\u0000${JSON.stringify(record.sessionId ?? '')}`;
        for (const tag in record.tags) key += `\u0000${tag}\u0001${record.tags[tag]}`;
        let one = series.get(key);
        if (one === undefined) series.set(key, (one = { record, values: [], last: 0 }));
        one.values.push(record.value as number);
        one.last = added++;
      }
    },
    take() {
      return [...series.values()]
        .sort((a, b) => a.last - b.last)
        .map(({ record, values }) => {
          if (values.length === 1) return record;
          const { value: _, ...rest } = record;
          return { ...rest, values };
        });
    },
  };
}
