/**
 * The daemon's aggregation of metric records into delta data points: what the OpenTelemetry
 * SDK's MeterProvider, read with delta temporality, makes of the same measurements (sdk-metrics
 * 3: a monotonic Sum for counters, LastValue for gauges, explicit-bucket histograms with min and
 * max, one overflow series past the cardinality limit), in the SDK's own `MetricData`, which the
 * OTLP writers take as they are. test/metric-aggregation.test.ts holds the two to the same result.
 *
 * What it saves is the SDK's cost per measurement: the SDK finds a measurement's series by
 * hashing its attributes (keys sorted, then JSON) for every value, and reads the clock for
 * every value. Here a record's series is found once, by a key made in the tags' own order (tags
 * hold only the tag alphabet: no separator can occur in them), and a histogram record's `values`
 * all go into it; a tag order seen for the first time is sorted once and remembered.
 *
 *   meter(scope) --> instrument(name), create(name, kind) --> record(values, tags) --> series (by tags) --> sum, last value, or count, sum, min, max, buckets
 *   collect(now) --> one ScopeMetrics a meter that has points; every series starts afresh
 */
import { type Attributes, type HrTime, ValueType } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, InstrumentType, type MetricData, type MetricDescriptor, type ScopeMetrics } from '@opentelemetry/sdk-metrics';

import type { MetricKind } from '../protocol/index.js';

/** The attributes of the one series a metric's points go into once it has as many as it may keep, as the SDK names it. */
const OVERFLOW_ATTRIBUTES: Attributes = Object.freeze({ 'otel.metric.overflow': true });
/** The overflow series' key: no tag set makes it (tag keys are never empty). */
const OVERFLOW_KEY = '\u0002';
/** Tag orders remembered with their sorted key; past it they are forgotten and sorted again when seen. */
const MAX_REMEMBERED_ORDERS = 4096;

/** The descriptor as the SDK makes it (the type and advice ride along, as they do in the SDK's). */
interface Descriptor extends MetricDescriptor {
  readonly type: InstrumentType;
  readonly advice: { readonly explicitBucketBoundaries?: readonly number[] };
}

interface Point {
  readonly attributes: Attributes;
  startTime: HrTime;
  /** A counter's sum, a gauge's last value; unused by histograms. */
  value: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** A histogram's bucket counts, one more than its boundaries; empty otherwise. */
  readonly counts: number[];
}

interface Instrument {
  readonly kind: MetricKind;
  readonly descriptor: Descriptor;
  readonly boundaries: readonly number[];
  /** This interval's series by key, in the order they were first recorded (the SDK's order). */
  series: Map<string, Point>;
  /** The keys of the previous collection's points and its time: a series in it starts at that time. */
  reported: ReadonlySet<string>;
  reportedAt: HrTime | null;
}

interface Meter {
  readonly scope: ScopeMetrics['scope'];
  /** By name, in the order they were made, each with the handle that records into it. */
  readonly instruments: Map<string, { readonly state: Instrument; readonly handle: InstrumentHandle }>;
}

export interface MetricAggregationOptions {
  /** Bucket boundaries of every histogram, ascending. */
  readonly boundaries: readonly number[];
  /** Series an instrument keeps between two collections, the overflow series included. */
  readonly cardinalityLimit: number;
}

export interface MetricAggregation {
  /** The meter of `scope` (one a scope name and version), made when first asked for. */
  meter(scope: { readonly name: string; readonly version: string }): AggregationMeter;
  /**
   * The metrics recorded since the last collection, one ScopeMetrics a meter with points, and a
   * fresh start for every series. `now` is the collection's time (epoch ms).
   */
  collect(now: number): ScopeMetrics[];
}

export interface AggregationMeter {
  /** The meter's instrument `name`, or undefined while it has none of that name. */
  instrument(name: string): InstrumentHandle | undefined;
  /** Makes the instrument `name` of `kind`, or returns the one of that name already made (whatever its kind). */
  create(name: string, kind: MetricKind): InstrumentHandle;
}

export interface InstrumentHandle {
  readonly kind: MetricKind;
  /**
   * Records one measurement, or each of `values`, under `tags` at `now` (epoch ms): a counter
   * adds them, a gauge keeps the last, a histogram counts each. As in the SDK, a negative
   * counter increment or histogram value is ignored (the protocol's checks refuse both before).
   */
  record(value: number | readonly number[], tags: Readonly<Record<string, string>>, now: number): void;
}

/** The unit the SDK is given for a metric name: milliseconds for `*_ms` and `*.ms`. */
export function unitOf(name: string): string {
  return name.endsWith('_ms') || name.endsWith('.ms') ? 'ms' : '';
}

export function createMetricAggregation(options: MetricAggregationOptions): MetricAggregation {
  const boundaries = Object.freeze([...options.boundaries]);
  /** Series an instrument keeps before a new one goes to the overflow series: one fewer than the limit, leaving room for it (the SDK's count). */
  const seriesLimit = options.cardinalityLimit - 1;
  const meters = new Map<string, Meter>();
  /** Keys made in a tag order that is not sorted, to their sorted key. */
  let orders = new Map<string, string>();

  /** The series key of `tags`: `key\0value\1` in sorted key order, as the SDK's hash sorts them. */
  function keyOf(tags: Readonly<Record<string, string>>): string {
    let key = '';
    let previous = '';
    let sorted = true;
    for (const name in tags) {
      if (name < previous) sorted = false;
      previous = name;
      key += `${name}\u0000${tags[name] as string}\u0001`;
    }
    if (sorted) return key;
    let canonical = orders.get(key);
    if (canonical === undefined) {
      canonical = '';
      for (const name of Object.keys(tags).sort()) canonical += `${name}\u0000${tags[name] as string}\u0001`;
      if (orders.size >= MAX_REMEMBERED_ORDERS) orders = new Map();
      orders.set(key, canonical);
    }
    return canonical;
  }

  function pointOf(instrument: Instrument, tags: Readonly<Record<string, string>>, now: number): Point {
    const key = keyOf(tags);
    let point = instrument.series.get(key);
    if (point !== undefined) return point;
    const overflow = instrument.series.size >= seriesLimit;
    if (overflow) {
      point = instrument.series.get(OVERFLOW_KEY);
      if (point !== undefined) return point;
    }
    point = {
      attributes: overflow ? OVERFLOW_ATTRIBUTES : tags,
      startTime: millisToHrTime(now),
      value: 0,
      count: 0,
      sum: 0,
      min: Infinity,
      max: -Infinity,
      counts: instrument.kind === 'histogram' ? new Array<number>(instrument.boundaries.length + 1).fill(0) : [],
    };
    instrument.series.set(overflow ? OVERFLOW_KEY : key, point);
    return point;
  }

  /** The bucket of `value`: the first whose upper boundary it does not exceed, else the last (the SDK's binary search). */
  function bucketOf(value: number): number {
    let low = 0;
    let high = boundaries.length - 1;
    let found = boundaries.length;
    while (high >= low) {
      const middle = low + Math.trunc((high - low) / 2);
      if ((boundaries[middle] as number) < value) low = middle + 1;
      else {
        found = middle;
        high = middle - 1;
      }
    }
    return found;
  }

  function observe(point: Point, value: number): void {
    point.count++;
    point.sum += value;
    point.min = Math.min(value, point.min);
    point.max = Math.max(value, point.max);
    const bucket = bucketOf(value);
    point.counts[bucket] = (point.counts[bucket] as number) + 1;
  }

  /** One value: a histogram counts it, a counter adds it, a gauge keeps it (negative ones ignored, but a gauge's). */
  function recordOne(instrument: Instrument, value: number, tags: Readonly<Record<string, string>>, now: number): void {
    if (value < 0 && instrument.kind !== 'gauge') return;
    const point = pointOf(instrument, tags, now);
    if (instrument.kind === 'histogram') observe(point, value);
    else if (instrument.kind === 'counter') point.value += value;
    else point.value = value;
  }

  function handleOf(instrument: Instrument): InstrumentHandle {
    return {
      kind: instrument.kind,
      record(value, tags, now) {
        if (typeof value === 'number') return recordOne(instrument, value, tags, now);
        if (instrument.kind === 'histogram') {
          let point: Point | undefined;
          for (let at = 0; at < value.length; at++) {
            const one = value[at] as number;
            if (one < 0) continue;
            point ??= pointOf(instrument, tags, now);
            observe(point, one);
          }
          return;
        }
        if (instrument.kind === 'gauge') return recordOne(instrument, value[value.length - 1] as number, tags, now);
        // A counter's increments gathered by the daemon are added at once, as one increment.
        let sum = 0;
        for (let at = 0; at < value.length; at++) sum += value[at] as number;
        return recordOne(instrument, sum, tags, now);
      },
    };
  }

  function create(name: string, kind: MetricKind): Instrument {
    const unit = unitOf(name);
    const type = kind === 'counter' ? InstrumentType.COUNTER : kind === 'histogram' ? InstrumentType.HISTOGRAM : InstrumentType.GAUGE;
    const advice = kind === 'histogram' ? { explicitBucketBoundaries: boundaries } : {};
    const descriptor: Descriptor = { name, type, description: '', unit, valueType: ValueType.DOUBLE, advice };
    return { kind, descriptor, boundaries, series: new Map(), reported: new Set(), reportedAt: null };
  }

  function metricOf(instrument: Instrument, endTime: HrTime): MetricData | null {
    const { series, reported, reportedAt } = instrument;
    // Every collection starts every series afresh (delta), and remembers which it reported.
    instrument.series = new Map();
    instrument.reported = new Set(series.keys());
    instrument.reportedAt = endTime;
    if (series.size === 0) return null;
    const dataPoints = [];
    for (const [key, point] of series) {
      // A series reported last time continues from that collection; a new one from its first record.
      const startTime = reportedAt !== null && reported.has(key) ? reportedAt : point.startTime;
      if (instrument.kind !== 'histogram') {
        dataPoints.push({ attributes: point.attributes, startTime, endTime, value: point.value });
        continue;
      }
      dataPoints.push({
        attributes: point.attributes,
        startTime,
        endTime,
        value: { min: point.min, max: point.max, sum: point.sum, buckets: { boundaries: instrument.boundaries as number[], counts: point.counts }, count: point.count },
      });
    }
    const { descriptor } = instrument;
    const aggregationTemporality = AggregationTemporality.DELTA;
    if (instrument.kind === 'counter') return { descriptor, aggregationTemporality, dataPointType: DataPointType.SUM, dataPoints, isMonotonic: true } as MetricData;
    if (instrument.kind === 'gauge') return { descriptor, aggregationTemporality, dataPointType: DataPointType.GAUGE, dataPoints } as MetricData;
    return { descriptor, aggregationTemporality, dataPointType: DataPointType.HISTOGRAM, dataPoints } as MetricData;
  }

  return {
    meter(scope) {
      const scopeKey = `${scope.name}\u0000${scope.version}`;
      let meter = meters.get(scopeKey);
      if (meter === undefined) {
        meter = { scope: { name: scope.name, version: scope.version, schemaUrl: undefined }, instruments: new Map() };
        meters.set(scopeKey, meter);
      }
      const { instruments } = meter;
      return {
        instrument: (name) => instruments.get(name)?.handle,
        create(name, kind) {
          let instrument = instruments.get(name);
          if (instrument === undefined) {
            const state = create(name, kind);
            instrument = { state, handle: handleOf(state) };
            instruments.set(name, instrument);
          }
          return instrument.handle;
        },
      };
    },
    collect(now) {
      const endTime = millisToHrTime(now);
      const scopes: ScopeMetrics[] = [];
      for (const { scope, instruments } of meters.values()) {
        const metrics: MetricData[] = [];
        for (const { state } of instruments.values()) {
          const metric = metricOf(state, endTime);
          if (metric !== null) metrics.push(metric);
        }
        if (metrics.length > 0) scopes.push({ scope, metrics });
      }
      return scopes;
    },
  };
}
