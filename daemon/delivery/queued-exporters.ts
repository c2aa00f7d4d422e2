/**
 * Exporters that hand serialised batches to an export queue instead of sending them: the SDK
 * sees an export succeed as soon as the batch is queued (the queue then owns its delivery and
 * its accounting), so a collector that is down never holds a collection or a batch processor.
 * Each batch is serialised once, whatever retries follow: as OTLP protobuf for a collector, as
 * OTLP JSON for the file exporter.
 */

/** How batches are serialised: what the sender behind the queue sends. */
export type WireFormat = 'protobuf' | 'json';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';

import { resourceIdOfMeter } from '../host-resources.js';
import type { LaneItem, LogEntry, SpanEntry } from '../lane-records.js';

import type { ExportQueue } from './export-queue.js';
import { serializeLogsJson, serializeSpansJson } from './otlp-json.js';
import { serializeLogsProtobuf, serializeSpansProtobuf } from './otlp-protobuf.js';

/** An exporter whose success means "queued": whoever calls it must not count the records as exported. */
export interface Delivering {
  readonly delivers: true;
}

/**
 * Metrics need the record count the reader knows (points are aggregates of many records). With
 * a collection (or none) go the batches passed on as they came (OTLP metrics), each with its
 * count, in the same export.
 */
export interface CountedMetricExporter extends PushMetricExporter, Delivering {
  exportCounted(metrics: ResourceMetrics | null, records: number, passed: readonly (readonly [ResourceMetrics, number])[], resultCallback: (result: ExportResult) => void): void;
}

/**
 * Where a signal's batches go, read at each export: a reload of the config changes it between
 * two exports, never during one.
 */
export interface Route {
  /** `null` while the signal's export is off. */
  readonly queue: ExportQueue | null;
  readonly format: WireFormat;
  /** Largest serialised request: a bigger batch is split (`[codexd] export_max_request_bytes`). */
  readonly maxRequestBytes: number;
  /** Counts records that reach a route whose export is off (they were accepted before it was turned off). */
  disabled(records: number): void;
}

/** How one kind of batch is serialised and cut into smaller batches. */
interface Codec<T> {
  serialize(batch: T, format: WireFormat): Uint8Array | undefined;
  /** The smallest pieces a batch can be cut into: records, or metric data points. */
  units(batch: T): number;
  /** Cuts a batch of two or more units into `parts` batches of about as many units, in order. */
  split(batch: T, parts: number): T[];
}

/**
 * Serialises a batch as requests of at most `maxBytes` each, cutting it as needed, in order; a
 * single unit over the bound goes as it is (the collector may refuse it, which is counted). The
 * batch's `records` are shared out by units, so that the pieces add up to them exactly. False
 * when a piece could not be serialised.
 */
function encodeBounded<T>(codec: Codec<T>, batch: T, records: number, format: WireFormat, maxBytes: number, out: [Uint8Array, number][]): boolean {
  const bytes = codec.serialize(batch, format);
  if (bytes === undefined) return false;
  const units = codec.units(batch);
  if (bytes.length <= maxBytes || units <= 1) {
    out.push([bytes, records]);
    return true;
  }
  const pieces = codec.split(batch, Math.min(units, Math.max(2, Math.ceil(bytes.length / maxBytes))));
  let left = records;
  let ok = true;
  pieces.forEach((piece, index) => {
    const share = index === pieces.length - 1 ? left : Math.min(left, Math.round((records * codec.units(piece)) / units));
    left -= share;
    ok = encodeBounded(codec, piece, share, format, maxBytes, out) && ok;
  });
  return ok;
}

/** Queues `batches` (each with the records it stands for) as one export: all of them, or none when one cannot be serialised. */
function enqueue<T>(route: Route, codec: Codec<T>, batches: readonly (readonly [T, number])[], what: string, done: (result: ExportResult) => void): void {
  const queue = route.queue;
  if (queue === null) {
    route.disabled(batches.reduce((sum, [, records]) => sum + records, 0));
    return done({ code: ExportResultCode.SUCCESS });
  }
  const requests: [Uint8Array, number][] = [];
  for (const [batch, records] of batches) {
    if (!encodeBounded(codec, batch, records, route.format, route.maxRequestBytes, requests)) return done({ code: ExportResultCode.FAILED, error: new Error(`${what} could not be serialised as OTLP`) });
  }
  for (const [bytes, count] of requests) queue.enqueue(bytes, count);
  done({ code: ExportResultCode.SUCCESS });
}

/**
 * One collection as one `ResourceMetrics` per host: each host's metrics come from a meter of its
 * own, whose version names its resource (see host-resources.ts); they go under that resource, in
 * the scope `codex` without the version. The daemon's own meter stays under the collection's
 * resource. The collection's `records` are shared out by data points, so the parts add up to
 * them exactly.
 */
export function byHostResource(metrics: ResourceMetrics, records: number, resourceOf: (id: number) => Resource | undefined): [ResourceMetrics, number][] {
  const groups = new Map<Resource, ResourceMetrics['scopeMetrics'][number][]>();
  for (const scope of metrics.scopeMetrics) {
    const id = resourceIdOfMeter(scope.scope.version);
    const resource = (id === undefined ? undefined : resourceOf(id)) ?? metrics.resource;
    const kept = id === undefined ? scope : { ...scope, scope: { name: scope.scope.name } };
    const list = groups.get(resource);
    if (list === undefined) groups.set(resource, [kept]);
    else list.push(kept);
  }
  // Only the daemon's own metrics (or none): the collection goes as it is.
  if (groups.size === 0 || (groups.size === 1 && metrics.scopeMetrics.every((scope) => resourceIdOfMeter(scope.scope.version) === undefined))) return [[metrics, records]];
  const total = METRICS.units(metrics);
  let left = records;
  let index = 0;
  return [...groups].map(([resource, scopeMetrics]) => {
    const part = { resource, scopeMetrics };
    const share = ++index === groups.size ? left : Math.min(left, Math.round((records * METRICS.units(part)) / Math.max(1, total)));
    left -= share;
    return [part, share];
  });
}

/** The scopes and metric descriptions of `metrics` holding only the given points. */
function rebuildScopes(metrics: ResourceMetrics, byScope: Map<number, Map<number, DataPoint[]>>): ResourceMetrics['scopeMetrics'] {
  return [...byScope].map(([scopeIndex, byMetric]) => {
    const scope = metrics.scopeMetrics[scopeIndex] as ResourceMetrics['scopeMetrics'][number];
    return { scope: scope.scope, metrics: [...byMetric].map(([metricIndex, dataPoints]) => ({ ...scope.metrics[metricIndex], dataPoints }) as (typeof scope.metrics)[number]) };
  });
}

/** `items` in `parts` runs of about equal length, in order. */
function chunks<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts);
  const out: T[][] = [];
  for (let at = 0; at < items.length; at += size) out.push(items.slice(at, at + size));
  return out;
}

type DataPoint = ResourceMetrics['scopeMetrics'][number]['metrics'][number]['dataPoints'][number];

const METRICS: Codec<ResourceMetrics> = {
  serialize: (metrics, format) => (format === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer).serializeRequest(metrics),
  units: (metrics) => metrics.scopeMetrics.reduce((sum, scope) => sum + scope.metrics.reduce((points, metric) => points + metric.dataPoints.length, 0), 0),
  split(metrics, parts) {
    // Cut by data point; each piece keeps the scopes and metric descriptions of its points.
    const points: { scope: number; metric: number; point: DataPoint }[] = [];
    metrics.scopeMetrics.forEach((scope, scopeIndex) =>
      scope.metrics.forEach((metric, metricIndex) => {
        for (const point of metric.dataPoints) points.push({ scope: scopeIndex, metric: metricIndex, point });
      }),
    );
    return chunks(points, parts).map((run) => {
      const scopes = new Map<number, Map<number, DataPoint[]>>();
      for (const { scope, metric, point } of run) {
        const byMetric = scopes.get(scope) ?? new Map<number, DataPoint[]>();
        scopes.set(scope, byMetric);
        const list = byMetric.get(metric);
        if (list === undefined) byMetric.set(metric, [point]);
        else list.push(point);
      }
      return { resource: metrics.resource, scopeMetrics: rebuildScopes(metrics, scopes) };
    });
  },
};

// The lanes' batches are written from their plain records by otlp-json.ts and otlp-protobuf.ts.
const LOGS: Codec<LaneItem<LogEntry>[]> = {
  serialize: (logs, format) => (format === 'json' ? serializeLogsJson(logs) : serializeLogsProtobuf(logs)),
  units: (logs) => logs.length,
  split: chunks,
};

const SPANS: Codec<LaneItem<SpanEntry>[]> = {
  serialize: (spans, format) => (format === 'json' ? serializeSpansJson(spans) : serializeSpansProtobuf(spans)),
  units: (spans) => spans.length,
  split: chunks,
};

/**
 * `resourceOf` turns the resource id a data point carries into its host's resource: each
 * collection is exported as one request (or more, when large) per host.
 */
export function createQueuedMetricExporter(route: Route, resourceOf: (id: number) => Resource | undefined): CountedMetricExporter {
  const exportCounted: CountedMetricExporter['exportCounted'] = (metrics, records, passed, done) =>
    enqueue(route, METRICS, [...(metrics === null ? [] : byHostResource(metrics, records, resourceOf)), ...passed], 'metrics', done);
  return {
    delivers: true,
    exportCounted,
    // Without a count (not the daemon's reader): the data points stand for the records.
    export: (metrics, done) => exportCounted(metrics, METRICS.units(metrics), [], done),
    forceFlush: () => Promise.resolve(),
    // The queue is shut down by the daemon after the pipelines, with what is left of the deadline.
    shutdown: () => Promise.resolve(),
    selectAggregationTemporality: () => AggregationTemporality.DELTA,
  };
}

/** A lane's exporter: `done` says whether the batch was queued for delivery. */
export interface LaneExporter<T> extends Delivering {
  export(items: T[], done: (result: ExportResult) => void): void;
}

/**
 * A lane exports a full batch from inside `emit`, on the path of whatever handed it the record
 * (an OTLP request waiting for its answer). The lanes' exporters serialise in the next check
 * phase instead: after the group commit that answers the request (otlp/export-ingest.ts), never
 * before it.
 */
const later = (work: () => void): void => void setImmediate(work);

export function createQueuedLogExporter(route: Route): LaneExporter<LaneItem<LogEntry>> {
  return { delivers: true, export: (logs, done) => later(() => enqueue(route, LOGS, [[logs, logs.length]], 'logs', done)) };
}

export function createQueuedSpanExporter(route: Route): LaneExporter<LaneItem<SpanEntry>> {
  return { delivers: true, export: (spans, done) => later(() => enqueue(route, SPANS, [[spans, spans.length]], 'traces', done)) };
}
