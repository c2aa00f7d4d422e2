/**
 * The metrics a batch of events derives, gathered by series before they are recorded: each
 * counter series once with its increments summed, each histogram series once with its values in
 * `values`. Recorded one by one, every event's two measurements each cost a record to check, to
 * tag with its session, to journal and to hash into the SDK's aggregation; a batch of 250 tool
 * results makes a handful of series.
 *
 * Series go in the order of their latest measurement, and a histogram's values in theirs, so
 * what reads "the latest" (`tools/metrics`' last latency of a tool) reads the latest event's.
 */
import type { MetricRecord } from '../protocol/index.js';

interface Series {
  readonly record: MetricRecord;
  sum: number;
  readonly values: number[];
  last: number;
}

export interface DerivedSeries {
  /** Adds one event's derived measurements. */
  add(records: readonly MetricRecord[]): void;
  /** Measurements added so far, before gathering. */
  readonly measurements: number;
  /** One record a series. */
  take(): MetricRecord[];
}

export function createDerivedSeries(): DerivedSeries {
  const series = new Map<string, Series>();
  let measurements = 0;
  return {
    add(records) {
      for (const record of records) {
        // A session id is the host's string (quoted, it holds no control character); tag keys
        // and values are sanitised (they hold none either).
        let key = `${record.name}\u0000${record.kind}\u0000${JSON.stringify(record.sessionId ?? '')}`;
        for (const tag in record.tags) key += `\u0000${tag}\u0001${record.tags[tag]}`;
        let one = series.get(key);
        if (one === undefined) series.set(key, (one = { record, sum: 0, values: [], last: 0 }));
        const value = record.value as number;
        if (record.kind === 'histogram') one.values.push(value);
        else one.sum += value;
        one.last = measurements++;
      }
    },
    get measurements() {
      return measurements;
    },
    take() {
      return [...series.values()]
        .sort((a, b) => a.last - b.last)
        .map(({ record, sum, values }) => {
        if (record.kind !== 'histogram') return { ...record, value: sum };
        if (values.length === 1) return record;
        const { value: _, ...rest } = record;
        return { ...rest, values };
      });
    },
  };
}
