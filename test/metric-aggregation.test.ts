/**
 * The daemon's metric aggregation makes what the OpenTelemetry SDK's MeterProvider, read with
 * delta temporality, makes of the same records, to the last field: the same metrics in the same
 * order, the same series with the same attributes, the same start and end times, counts, sums,
 * minimums, maximums and buckets, the same overflow series past the cardinality limit.
 */
import { AggregationTemporality, type DataPoint, MeterProvider, MetricReader, type ScopeMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { createMetricAggregation, unitOf } from '../daemon/metric-aggregation.js';
import { HISTOGRAM_BOUNDARIES_MS } from '../daemon/metrics-pipeline.js';
import type { MetricKind } from '../protocol/index.js';

type Tags = Readonly<Record<string, string>>;
interface Recorded {
  readonly scope: number;
  readonly name: string;
  readonly kind: MetricKind;
  readonly value: number | readonly number[];
  readonly tags: Tags;
}

const SCOPES = [
  { name: 'codex', version: '' },
  { name: 'codex', version: 'codexd.resource.1' },
];
const NAMES: readonly [string, MetricKind][] = [
  ['codex.tool.call', 'counter'],
  ['codex.tool.call.duration_ms', 'histogram'],
  ['codex.turn.ttft.duration_ms', 'histogram'],
  ['codex.queue.depth', 'gauge'],
];
/** Tag sets, some written in another key order than their first appearance, one empty. */
const TAG_SETS: readonly Tags[] = [
  { tool: 'shell', success: 'true' },
  { success: 'true', tool: 'shell' },
  { tool: 'apply_patch', success: 'false', model: 'gpt-5.1-codex' },
  { model: 'gpt-5.1-codex', tool: 'apply_patch', success: 'false' },
  { success: 'false', model: 'gpt-5.1-codex', tool: 'apply_patch' },
  {},
  { status: '200' },
  { tool: 'read_file', success: 'true', 'client.name': 'codex_exec', session_source: 'cli' },
  { session_source: 'cli', 'client.name': 'codex_exec', success: 'true', tool: 'read_file' },
];
/** Values at and around the bucket boundaries, past the last one, zero and negative. */
const VALUES = [0, 0.5, 5, 5.000001, 10, 74.9, 75, 250, 999.5, 30000, 299999, 300000, 300001, 1e9, -1, -0.25];

/** A small deterministic generator, so a failure can be replayed. */
function generator(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % below;
  };
}

/** The SDK as the metric pipeline used it: a meter a scope, instruments as it made them, values recorded one by one. */
function createSdkSide(cardinalityLimit: number) {
  class DeltaReader extends MetricReader {
    constructor() {
      super({ aggregationTemporalitySelector: () => AggregationTemporality.DELTA, cardinalitySelector: () => cardinalityLimit });
    }
    protected override onForceFlush(): Promise<void> {
      return Promise.resolve();
    }
    protected override onShutdown(): Promise<void> {
      return Promise.resolve();
    }
  }
  const reader = new DeltaReader();
  const provider = new MeterProvider({ readers: [reader] });
  const instruments = new Map<string, { add?: (value: number, tags: Tags) => void; record?: (value: number, tags: Tags) => void }>();
  return {
    record({ scope, name, kind, value, tags }: Recorded): void {
      const key = `${scope}/${name}`;
      let instrument = instruments.get(key);
      if (instrument === undefined) {
        const meter = SCOPES[scope]?.version === '' ? provider.getMeter('codex') : provider.getMeter('codex', SCOPES[scope]?.version);
        const unit = unitOf(name);
        const base = unit === '' ? {} : { unit };
        instrument =
          kind === 'counter'
            ? meter.createCounter(name, base)
            : kind === 'histogram'
              ? meter.createHistogram(name, { ...base, advice: { explicitBucketBoundaries: [...HISTOGRAM_BOUNDARIES_MS] } })
              : meter.createGauge(name, base);
        instruments.set(key, instrument);
      }
      if (typeof value !== 'number') {
        if (kind === 'counter') instrument.add?.(value.reduce((sum, one) => sum + one, 0), tags);
        else for (const one of value) instrument.record?.(one, tags);
      } else if (kind === 'counter') instrument.add?.(value, tags);
      else instrument.record?.(value, tags);
    },
    async collect(): Promise<ScopeMetrics[]> {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      return resourceMetrics.scopeMetrics;
    },
  };
}

function createOwnSide(cardinalityLimit: number) {
  const aggregation = createMetricAggregation({ boundaries: HISTOGRAM_BOUNDARIES_MS, cardinalityLimit });
  return {
    record({ scope, name, kind, value, tags }: Recorded): void {
      const meter = aggregation.meter(SCOPES[scope] as (typeof SCOPES)[number]);
      (meter.instrument(name) ?? meter.create(name, kind)).record(value, tags, Date.now());
    },
    collect: (): ScopeMetrics[] => aggregation.collect(Date.now()),
  };
}

/** Records `intervals` lists of records on both sides, collecting after each; the clock moves between records. */
async function compare(intervals: readonly (readonly Recorded[])[], cardinalityLimit: number): Promise<ScopeMetrics[][]> {
  const sdk = createSdkSide(cardinalityLimit);
  const own = createOwnSide(cardinalityLimit);
  const collected: ScopeMetrics[][] = [];
  for (const records of intervals) {
    for (const record of records) {
      vi.advanceTimersByTime(7);
      sdk.record(record);
      own.record(record);
    }
    vi.advanceTimersByTime(1000);
    const expected = await sdk.collect();
    const actual = own.collect();
    expect(actual).toEqual(expected);
    collected.push(actual);
  }
  return collected;
}

describe('metric aggregation', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_767_225_600_123);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('makes the SDK\'s delta metrics of counters, histograms and gauges over many intervals, tags in any order', async () => {
    const next = generator(20261207);
    const intervals: Recorded[][] = [];
    for (let interval = 0; interval < 12; interval++) {
      const records: Recorded[] = [];
      // Some intervals leave a scope or a metric out: a series reported in the interval before starts then, any other when first recorded.
      const names = interval % 4 === 3 ? NAMES.slice(0, 2) : NAMES;
      for (let at = 0; at < 60; at++) {
        const [name, kind] = names[next(names.length)] as [string, MetricKind];
        const tags = TAG_SETS[next(TAG_SETS.length)] as Tags;
        const scope = interval % 5 === 2 ? 0 : next(SCOPES.length);
        const one = (): number => (kind === 'counter' ? [1, 2, 0.5, -1][next(4)] : VALUES[next(VALUES.length)]) as number;
        const value = kind !== 'gauge' && next(3) === 0 ? Array.from({ length: 1 + next(5) }, one) : one();
        records.push({ scope, name, kind, value, tags });
      }
      intervals.push(records);
    }
    // One interval with nothing recorded at all, then records again.
    intervals.splice(6, 0, []);
    const collected = await compare(intervals, 2000);
    expect(collected[6]).toEqual([]);
    // The comparison covered what it claims: histograms with buckets, both scopes, a series carried on from the interval before.
    const points: DataPoint<unknown>[] = collected.flat().flatMap((scope) => scope.metrics.flatMap((metric): DataPoint<unknown>[] => metric.dataPoints));
    expect(new Set(collected.flat().map((scope) => scope.scope.version))).toEqual(new Set(['', 'codexd.resource.1']));
    expect(points.some((point) => typeof point.value === 'object' && (point.value as { count: number }).count > 1)).toBe(true);
    expect(points.some((point) => point.startTime[0] !== points[0]?.startTime[0] && points.some((other) => other !== point && other.endTime === point.startTime))).toBe(true);
  });

  it('folds series past the cardinality limit into the SDK\'s overflow series, and starts afresh after each collection', async () => {
    const records = (count: number, offset: number): Recorded[] =>
      Array.from({ length: count }, (_, at) => ({ scope: 0, name: at % 2 === 0 ? 'codex.tool.call.duration_ms' : 'codex.tool.call', kind: at % 2 === 0 ? 'histogram' : 'counter', value: at % 7, tags: { tool: `tool-${(at + offset) % 11}`, success: 'true' } }) as Recorded);
    const collected = await compare([records(40, 0), records(40, 3), records(6, 0)], 5);
    const overflowed = collected[0]?.[0]?.metrics[0]?.dataPoints ?? [];
    expect(overflowed).toHaveLength(5);
    expect(overflowed.at(-1)?.attributes).toEqual({ 'otel.metric.overflow': true });
  });
});
