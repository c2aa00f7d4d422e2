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
import { JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

import type { ExportQueue } from './export-queue.js';

/** An exporter whose success means "queued": whoever calls it must not count the records as exported. */
export interface Delivering {
  readonly delivers: true;
}

/** Metrics need the record count the reader knows (points are aggregates of many records). */
export interface CountedMetricExporter extends PushMetricExporter, Delivering {
  exportCounted(metrics: ResourceMetrics, records: number, resultCallback: (result: ExportResult) => void): void;
}

/**
 * Where a signal's batches go, read at each export: a reload of the config changes it between
 * two exports, never during one.
 */
export interface Route {
  /** `null` while the signal's export is off. */
  readonly queue: ExportQueue | null;
  readonly format: WireFormat;
  /** Counts records that reach a route whose export is off (they were accepted before it was turned off). */
  disabled(records: number): void;
}

function enqueue(route: Route, serialize: (format: WireFormat) => Uint8Array | undefined, records: number, what: string, done: (result: ExportResult) => void): void {
  const queue = route.queue;
  if (queue === null) {
    route.disabled(records);
    return done({ code: ExportResultCode.SUCCESS });
  }
  const bytes = serialize(route.format);
  if (bytes === undefined) return done({ code: ExportResultCode.FAILED, error: new Error(`${what} could not be serialised as OTLP`) });
  queue.enqueue(bytes, records);
  done({ code: ExportResultCode.SUCCESS });
}

export function createQueuedMetricExporter(route: Route): CountedMetricExporter {
  const exportCounted = (metrics: ResourceMetrics, records: number, done: (result: ExportResult) => void): void =>
    enqueue(route, (format) => (format === 'json' ? JsonMetricsSerializer : ProtobufMetricsSerializer).serializeRequest(metrics), records, 'metrics', done);
  return {
    delivers: true,
    exportCounted,
    // Without a count (not the daemon's reader): the data points stand for the records.
    export: (metrics, done) => exportCounted(metrics, metrics.scopeMetrics.reduce((sum, scope) => sum + scope.metrics.reduce((points, metric) => points + metric.dataPoints.length, 0), 0), done),
    forceFlush: () => Promise.resolve(),
    // The queue is shut down by the daemon after the pipelines, with what is left of the deadline.
    shutdown: () => Promise.resolve(),
    selectAggregationTemporality: () => AggregationTemporality.DELTA,
  };
}

export function createQueuedLogExporter(route: Route): LogRecordExporter & Delivering {
  return {
    delivers: true,
    export: (logs: ReadableLogRecord[], done) => enqueue(route, (format) => (format === 'json' ? JsonLogsSerializer : ProtobufLogsSerializer).serializeRequest(logs), logs.length, 'logs', done),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

export function createQueuedSpanExporter(route: Route): SpanExporter & Delivering {
  return {
    delivers: true,
    export: (spans: ReadableSpan[], done) => enqueue(route, (format) => (format === 'json' ? JsonTraceSerializer : ProtobufTraceSerializer).serializeRequest(spans), spans.length, 'traces', done),
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
