/**
 * OTLP metric export requests, as OTLP/HTTP and OTLP/gRPC carry them: protobuf
 * (`ExportMetricsServiceRequest`, opentelemetry/proto/collector/metrics/v1) or OTLP JSON. Both
 * become OpenTelemetry JS's own metric data (`MetricData`), exactly as sent: each point keeps its
 * start and end times to the nanosecond, its temporality, its bucket bounds and counts, its
 * exponential scale and offsets. Nothing is aggregated; the export serialisers write it back
 * out as it came.
 *
 * What OpenTelemetry JS's metric data cannot hold is left out: exemplars, point flags, an
 * exponential histogram's zero threshold, a metric's metadata. Summaries (a legacy type no
 * OpenTelemetry SDK makes) and sums or histograms without a temporality are refused, counted by
 * their points. A 64-bit integer beyond 2^53 is carried as the nearest number.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import { ValueType } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type MetricData, type ScopeMetrics } from '@opentelemetry/sdk-metrics';

import { type ProtobufError, type ProtobufReader, WIRE } from '../protobuf.js';
import { attributeOf, type DecodedRequest, decodeJsonRequest, decodeProtobufRequest, isObject, type Json, jsonAttributes, jsonNanos, list, Malformed } from './decode-common.js';

/** Per resource its attributes, per scope its metrics, as OpenTelemetry JS holds them. */
export type DecodedMetrics = DecodedRequest<MetricData>;

/** The data points of a decoded metric: what status and the books count for metrics taken over OTLP. */
export const pointsOf = (metric: MetricData): number => metric.dataPoints.length;

const NANOS_PER_SECOND = 1_000_000_000n;
const hrTime = (nanos: bigint): HrTime => [Number(nanos / NANOS_PER_SECOND), Number(nanos % NANOS_PER_SECOND)];

/** OTLP's temporality (1 delta, 2 cumulative); 0 (unspecified) is not allowed for sums and histograms. */
function temporalityOf(value: number, name: string, points: number): AggregationTemporality {
  if (value === 1) return AggregationTemporality.DELTA;
  if (value === 2) return AggregationTemporality.CUMULATIVE;
  throw new Malformed(`metric "${name}": aggregationTemporality must be delta (1) or cumulative (2)`, points);
}

interface Shape {
  kind: 'gauge' | 'sum' | 'histogram' | 'exponential' | 'summary' | null;
  temporality: number;
  monotonic: boolean;
  /** A summary's points, counted only (summaries are refused). */
  summaryPoints: number;
}

/** The fields every point has, and a number point's value. */
interface NumberPoint {
  startTime: HrTime;
  endTime: HrTime;
  attributes: Attributes;
  value: number;
  isInt: boolean;
}

function numberMetric(name: string, description: string, unit: string, shape: Shape, points: NumberPoint[]): MetricData {
  // OpenTelemetry JS types a metric's values as a whole: integers only when every point is one.
  const valueType = points.length > 0 && points.every((point) => point.isInt) ? ValueType.INT : ValueType.DOUBLE;
  const dataPoints = points.map(({ startTime, endTime, attributes, value }) => ({ startTime, endTime, attributes, value }));
  const descriptor = { name, description, unit, valueType };
  if (shape.kind === 'gauge') return { descriptor, dataPointType: DataPointType.GAUGE, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPoints };
  return { descriptor, dataPointType: DataPointType.SUM, aggregationTemporality: temporalityOf(shape.temporality, name, points.length), isMonotonic: shape.monotonic, dataPoints };
}

/** Checks what a histogram point must hold to be read back: one count per bucket, bounds one fewer. */
function checkedBuckets(name: string, bounds: number[], counts: number[], points: number): void {
  if (counts.length !== 0 && counts.length !== bounds.length + 1) throw new Malformed(`metric "${name}": a histogram point has ${counts.length} bucket counts for ${bounds.length} explicit bounds (it needs one more count than bounds)`, points);
}

// ------------------------------------------------------------------ protobuf

/** A packed (or, as the format allows, unpacked) repeated field of fixed 64-bit values, read by `read`. */
function repeatedFixed64(reader: ProtobufReader, wire: number, into: number[], read: (from: ProtobufReader) => number): void {
  if (wire !== WIRE.bytes) {
    into.push(read(reader));
    return;
  }
  const packed = reader.message();
  while (!packed.done) into.push(read(packed));
}

function repeatedVarint(reader: ProtobufReader, wire: number, into: number[]): void {
  if (wire !== WIRE.bytes) {
    into.push(reader.varint());
    return;
  }
  const packed = reader.message();
  while (!packed.done) into.push(packed.varint());
}

const zigzag = (value: number): number => (value % 2 === 0 ? value / 2 : -(value + 1) / 2);
const fixedCount = (reader: ProtobufReader): number => Number(reader.fixed64());
const signedFixed = (reader: ProtobufReader): number => Number(BigInt.asIntN(64, reader.fixed64()));

function numberPoint(reader: ProtobufReader): NumberPoint {
  const point: NumberPoint = { startTime: [0, 0], endTime: [0, 0], attributes: {}, value: 0, isInt: false };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 7 && wire === WIRE.bytes) attributeOf(reader.message(), point.attributes);
    else if (field === 2 && wire === WIRE.fixed64) point.startTime = hrTime(reader.fixed64());
    else if (field === 3 && wire === WIRE.fixed64) point.endTime = hrTime(reader.fixed64());
    else if (field === 4 && wire === WIRE.fixed64) (point.value = reader.double()), (point.isInt = false);
    else if (field === 6 && wire === WIRE.fixed64) (point.value = signedFixed(reader)), (point.isInt = true);
    else reader.skip(wire);
  }
  return point;
}

type HistogramPoint = Extract<MetricData, { dataPointType: DataPointType.HISTOGRAM }>['dataPoints'][number];
type ExponentialPoint = Extract<MetricData, { dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM }>['dataPoints'][number];

function histogramPoint(reader: ProtobufReader): HistogramPoint & { value: { buckets: { boundaries: number[]; counts: number[] } } } {
  let startTime: HrTime = [0, 0];
  let endTime: HrTime = [0, 0];
  const attributes: Attributes = {};
  const counts: number[] = [];
  const boundaries: number[] = [];
  let count = 0;
  let sum: number | undefined;
  let min: number | undefined;
  let max: number | undefined;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 9 && wire === WIRE.bytes) attributeOf(reader.message(), attributes);
    else if (field === 2 && wire === WIRE.fixed64) startTime = hrTime(reader.fixed64());
    else if (field === 3 && wire === WIRE.fixed64) endTime = hrTime(reader.fixed64());
    else if (field === 4 && wire === WIRE.fixed64) count = fixedCount(reader);
    else if (field === 5 && wire === WIRE.fixed64) sum = reader.double();
    else if (field === 6 && (wire === WIRE.bytes || wire === WIRE.fixed64)) repeatedFixed64(reader, wire, counts, fixedCount);
    else if (field === 7 && (wire === WIRE.bytes || wire === WIRE.fixed64)) repeatedFixed64(reader, wire, boundaries, (from) => from.double());
    else if (field === 11 && wire === WIRE.fixed64) min = reader.double();
    else if (field === 12 && wire === WIRE.fixed64) max = reader.double();
    else reader.skip(wire);
  }
  return { startTime, endTime, attributes, value: { buckets: { boundaries, counts }, count, ...(sum === undefined ? {} : { sum }), ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) } };
}

function exponentialBuckets(reader: ProtobufReader): { offset: number; bucketCounts: number[] } {
  let offset = 0;
  const bucketCounts: number[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.varint) offset = zigzag(reader.varint());
    else if (field === 2 && (wire === WIRE.bytes || wire === WIRE.varint)) repeatedVarint(reader, wire, bucketCounts);
    else reader.skip(wire);
  }
  return { offset, bucketCounts };
}

function exponentialPoint(reader: ProtobufReader): ExponentialPoint {
  let startTime: HrTime = [0, 0];
  let endTime: HrTime = [0, 0];
  const attributes: Attributes = {};
  let count = 0;
  let sum: number | undefined;
  let scale = 0;
  let zeroCount = 0;
  let positive = { offset: 0, bucketCounts: [] as number[] };
  let negative = { offset: 0, bucketCounts: [] as number[] };
  let min: number | undefined;
  let max: number | undefined;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) attributeOf(reader.message(), attributes);
    else if (field === 2 && wire === WIRE.fixed64) startTime = hrTime(reader.fixed64());
    else if (field === 3 && wire === WIRE.fixed64) endTime = hrTime(reader.fixed64());
    else if (field === 4 && wire === WIRE.fixed64) count = fixedCount(reader);
    else if (field === 5 && wire === WIRE.fixed64) sum = reader.double();
    else if (field === 6 && wire === WIRE.varint) scale = zigzag(reader.varint());
    else if (field === 7 && wire === WIRE.fixed64) zeroCount = fixedCount(reader);
    else if (field === 8 && wire === WIRE.bytes) positive = exponentialBuckets(reader.message());
    else if (field === 9 && wire === WIRE.bytes) negative = exponentialBuckets(reader.message());
    else if (field === 12 && wire === WIRE.fixed64) min = reader.double();
    else if (field === 13 && wire === WIRE.fixed64) max = reader.double();
    else reader.skip(wire);
  }
  return { startTime, endTime, attributes, value: { count, scale, zeroCount, positive, negative, ...(sum === undefined ? {} : { sum }), ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) } };
}

/** The points of a `Gauge`, `Sum`, `Histogram`, `ExponentialHistogram` or `Summary` message, read by `point`, and its temporality and monotonic flag. */
function pointsIn<T>(reader: ProtobufReader, shape: Shape, point: ((from: ProtobufReader) => T) | null): T[] {
  const points: T[] = [];
  let skipped = 0;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) {
      if (point === null) (reader.skip(wire), skipped++);
      else points.push(point(reader.message()));
    } else if (field === 2 && wire === WIRE.varint) shape.temporality = reader.varint();
    else if (field === 3 && wire === WIRE.varint) shape.monotonic = reader.varint() !== 0;
    else reader.skip(wire);
  }
  if (point === null) shape.summaryPoints = skipped;
  return points;
}

function metric(reader: ProtobufReader): MetricData {
  let name = '';
  let description = '';
  let unit = '';
  const shape: Shape = { kind: null, temporality: 0, monotonic: false, summaryPoints: 0 };
  let numbers: NumberPoint[] = [];
  let histograms: HistogramPoint[] = [];
  let exponentials: ExponentialPoint[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) name = reader.string();
    else if (field === 2 && wire === WIRE.bytes) description = reader.string();
    else if (field === 3 && wire === WIRE.bytes) unit = reader.string();
    else if (field === 5 && wire === WIRE.bytes) (shape.kind = 'gauge'), (numbers = pointsIn(reader.message(), shape, numberPoint));
    else if (field === 7 && wire === WIRE.bytes) (shape.kind = 'sum'), (numbers = pointsIn(reader.message(), shape, numberPoint));
    else if (field === 9 && wire === WIRE.bytes) (shape.kind = 'histogram'), (histograms = pointsIn(reader.message(), shape, histogramPoint));
    else if (field === 10 && wire === WIRE.bytes) (shape.kind = 'exponential'), (exponentials = pointsIn(reader.message(), shape, exponentialPoint));
    else if (field === 11 && wire === WIRE.bytes) (shape.kind = 'summary'), pointsIn(reader.message(), shape, null);
    else reader.skip(wire);
  }
  return metricOf(name, description, unit, shape, numbers, histograms, exponentials);
}

/** One metric from what was read of it, checked; throws {@link Malformed}, counting its points, when it cannot be passed on. */
function metricOf(name: string, description: string, unit: string, shape: Shape, numbers: NumberPoint[], histograms: HistogramPoint[], exponentials: ExponentialPoint[]): MetricData {
  const points = numbers.length + histograms.length + exponentials.length;
  if (shape.kind === 'summary') throw new Malformed(`metric "${name}": summaries are not passed on (no OpenTelemetry SDK makes them)`, shape.summaryPoints);
  if (name === '') throw new Malformed('a metric must have a name', points);
  const descriptor = { name, description, unit, valueType: ValueType.DOUBLE };
  switch (shape.kind) {
    case 'gauge':
    case 'sum':
      return numberMetric(name, description, unit, shape, numbers);
    case 'histogram':
      for (const point of histograms) checkedBuckets(name, point.value.buckets.boundaries, point.value.buckets.counts, points);
      return { descriptor, dataPointType: DataPointType.HISTOGRAM, aggregationTemporality: temporalityOf(shape.temporality, name, points), dataPoints: histograms };
    case 'exponential':
      return { descriptor, dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM, aggregationTemporality: temporalityOf(shape.temporality, name, points), dataPoints: exponentials };
    case null:
      // A metric with no data: nothing to pass on and nothing lost.
      return { descriptor, dataPointType: DataPointType.GAUGE, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPoints: [] };
  }
}

/** Decodes a protobuf `ExportMetricsServiceRequest`; throws {@link ProtobufError} when it is not one. */
export function decodeMetricsRequest(bytes: Uint8Array): DecodedMetrics {
  return decodeProtobufRequest(bytes, (reader) => metric(reader));
}

// ------------------------------------------------------------------ OTLP JSON

/** A number as OTLP JSON writes one: a number, or a string for 64-bit integers and for NaN and the infinities. */
function jsonNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const number = Number(value);
  return Number.isNaN(number) && value !== 'NaN' ? undefined : number;
}

const jsonCounts = (value: unknown): number[] => list(value).map((item) => jsonNumber(item) ?? 0);

function jsonTimes(point: Json): { startTime: HrTime; endTime: HrTime; attributes: Attributes } {
  return { startTime: hrTime(jsonNanos(point.startTimeUnixNano)), endTime: hrTime(jsonNanos(point.timeUnixNano)), attributes: jsonAttributes(point.attributes) };
}

/** Optional doubles of a point (`sum`, `min`, `max`), only those present. */
function jsonOptional(point: Json, keys: readonly ('sum' | 'min' | 'max')[]): { sum?: number; min?: number; max?: number } {
  const out: { sum?: number; min?: number; max?: number } = {};
  for (const key of keys) {
    const number = jsonNumber(point[key]);
    if (number !== undefined) out[key] = number;
  }
  return out;
}

/** OTLP JSON writes an enum as its number or, from some SDKs, its name. */
function jsonTemporality(value: unknown): number {
  if (value === 'AGGREGATION_TEMPORALITY_DELTA') return 1;
  if (value === 'AGGREGATION_TEMPORALITY_CUMULATIVE') return 2;
  return typeof value === 'number' ? value : 0;
}

function jsonExponentialBuckets(value: unknown): { offset: number; bucketCounts: number[] } {
  const buckets = isObject(value) ? value : {};
  return { offset: jsonNumber(buckets.offset) ?? 0, bucketCounts: jsonCounts(buckets.bucketCounts) };
}

function jsonMetric(value: unknown): MetricData {
  if (!isObject(value)) throw new Malformed('a metric must be an object');
  const name = typeof value.name === 'string' ? value.name : '';
  const description = typeof value.description === 'string' ? value.description : '';
  const unit = typeof value.unit === 'string' ? value.unit : '';
  const shape: Shape = { kind: null, temporality: 0, monotonic: false, summaryPoints: 0 };
  const data = (key: string): Json | null => (isObject(value[key]) ? value[key] : null);
  let numbers: NumberPoint[] = [];
  let histograms: HistogramPoint[] = [];
  let exponentials: ExponentialPoint[] = [];
  const gauge = data('gauge') ?? data('sum');
  const histogram = data('histogram');
  const exponential = data('exponentialHistogram');
  const summary = data('summary');
  if (gauge !== null) {
    shape.kind = data('gauge') !== null ? 'gauge' : 'sum';
    shape.temporality = jsonTemporality(gauge.aggregationTemporality);
    shape.monotonic = gauge.isMonotonic === true;
    numbers = list(gauge.dataPoints)
      .filter(isObject)
      .map((point) => {
        const isInt = point.asInt !== undefined;
        return { ...jsonTimes(point), value: jsonNumber(isInt ? point.asInt : point.asDouble) ?? 0, isInt };
      });
  } else if (histogram !== null) {
    shape.kind = 'histogram';
    shape.temporality = jsonTemporality(histogram.aggregationTemporality);
    histograms = list(histogram.dataPoints)
      .filter(isObject)
      .map((point) => ({
        ...jsonTimes(point),
        value: { buckets: { boundaries: list(point.explicitBounds).map((bound) => jsonNumber(bound) ?? 0), counts: jsonCounts(point.bucketCounts) }, count: jsonNumber(point.count) ?? 0, ...jsonOptional(point, ['sum', 'min', 'max']) },
      }));
  } else if (exponential !== null) {
    shape.kind = 'exponential';
    shape.temporality = jsonTemporality(exponential.aggregationTemporality);
    exponentials = list(exponential.dataPoints)
      .filter(isObject)
      .map((point) => ({
        ...jsonTimes(point),
        value: { count: jsonNumber(point.count) ?? 0, scale: jsonNumber(point.scale) ?? 0, zeroCount: jsonNumber(point.zeroCount) ?? 0, positive: jsonExponentialBuckets(point.positive), negative: jsonExponentialBuckets(point.negative), ...jsonOptional(point, ['sum', 'min', 'max']) },
      }));
  } else if (summary !== null) {
    shape.kind = 'summary';
    shape.summaryPoints = list(summary.dataPoints).length;
  }
  return metricOf(name, description, unit, shape, numbers, histograms, exponentials);
}

/** Decodes an OTLP JSON metric export request (already parsed); throws {@link ProtobufError} when its shape is not one. */
export function decodeMetricsJson(body: unknown): DecodedMetrics {
  return decodeJsonRequest(body, { resources: 'resourceMetrics', scopes: 'scopeMetrics', items: 'metrics' }, (value) => jsonMetric(value));
}

// ------------------------------------------------------------------ the journal

/**
 * Scopes of metrics as the journal gave them back (JSON): the same data, except that JSON
 * writes NaN and the infinities as null, read back here as NaN so the serialisers can write it.
 */
export function journaledMetrics(value: unknown): ScopeMetrics[] {
  const nanForNull = (number: unknown): unknown => (number === null ? Number.NaN : number);
  return (value as ScopeMetrics[]).map((scope) => ({
    ...scope,
    metrics: scope.metrics.map(
      (metric) =>
        ({
          ...metric,
          dataPoints: (metric.dataPoints as { value: unknown }[]).map((point) => {
            if (typeof point.value !== 'object' || point.value === null) return { ...point, value: nanForNull(point.value) };
            const aggregate = point.value as { sum?: unknown; min?: unknown; max?: unknown };
            return { ...point, value: { ...aggregate, ...('sum' in aggregate ? { sum: nanForNull(aggregate.sum) } : {}), ...('min' in aggregate ? { min: nanForNull(aggregate.min) } : {}), ...('max' in aggregate ? { max: nanForNull(aggregate.max) } : {}) } };
          }),
        }) as MetricData,
    ),
  }));
}
