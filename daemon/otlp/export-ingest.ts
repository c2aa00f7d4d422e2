/**
 * What the OTLP receivers share, whatever the transport (HTTP, gRPC): whether the daemon takes an
 * export now, and taking one: decode, hand to the signal's ingest (span-ingest, log-ingest, the
 * metric pipeline's pass-through) under each resource as sent, count by sender, make it durable.
 * The transports only map the outcome to their own statuses.
 */
import type { MetricData, ScopeMetrics } from '@opentelemetry/sdk-metrics';

import type { OtlpReceiverStatus } from '../../protocol/index.js';
import type { HostResource, HostResources } from '../host-resources.js';
import type { LogIngest } from '../log-ingest.js';
import type { MemoryGate } from '../memory-limiter.js';
import type { MetricsPipeline } from '../metrics-pipeline.js';
import type { SpanIngest } from '../span-ingest.js';
import type { SignalStats } from '../stats.js';
import type { DecodedRequest } from './decode-common.js';
import { decodeLogsJson, decodeLogsRequest } from './decode-logs.js';
import { decodeMetricsJson, decodeMetricsRequest, pointsOf } from './decode-metrics.js';
import { decodeTraceJson, decodeTraceRequest } from './decode-traces.js';
import { encodeBytesField, encodeVarint, ProtobufError } from '../protobuf.js';

export type OtlpSignal = 'traces' | 'logs' | 'metrics';

/** How an export went; each transport answers it with its own status. */
export type ExportOutcome =
  /** Taken; `rejected` items were not (malformed, or a full lane), as `message` says. */
  | { readonly kind: 'ok'; readonly rejected: number; readonly message: string }
  /** Not an OTLP export request of this signal. */
  | { readonly kind: 'invalid'; readonly message: string }
  /** Over the memory limit, stopping, or the journal cannot be written: send it again later. */
  | { readonly kind: 'retry'; readonly reason: 'memory' | 'stopping' | 'not_durable'; readonly message: string };

export interface OtlpExportIngest {
  /** Before a body is read: a `retry` outcome when the daemon takes nothing now, else null. */
  admit(): Extract<ExportOutcome, { kind: 'retry' }> | null;
  /**
   * Decodes and takes a request, then answers once it is durable. Requests taken in the same
   * turn of the event loop share one journal sync (group commit): under load one fdatasync covers
   * many requests, and none is answered before its data is on disk.
   */
  take(signal: OtlpSignal, bytes: Uint8Array, format: 'protobuf' | 'json'): Promise<ExportOutcome>;
  counts(): OtlpIngestCounts;
}

/** What each sender handed over, by `service.name`, and what was refused, by reason; metrics are counted by data point. */
export type OtlpIngestCounts = Pick<OtlpReceiverStatus, 'spansBySender' | 'spansRefused' | 'logsBySender' | 'logsRefused' | 'metricPointsBySender' | 'metricPointsRefused'>;

export interface OtlpExportIngestOptions {
  readonly spans: SpanIngest;
  readonly logs: LogIngest;
  readonly metrics: MetricsPipeline;
  readonly metricStats: SignalStats;
  readonly resources: HostResources;
  readonly memory: MemoryGate;
  /** Makes what was taken in durable before the answer; false when the journal cannot be written. */
  syncJournal(): boolean;
  isShuttingDown(): boolean;
}

const bump = (map: Map<string, number>, key: string, by = 1): void => void map.set(key, (map.get(key) ?? 0) + by);

/** The sender of a resource, as status lists it. */
const senderOf = (resource: Readonly<Record<string, unknown>>): string => (typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown_service');

/**
 * An `ExportTraceServiceResponse`, `ExportLogsServiceResponse` or `ExportMetricsServiceResponse`
 * (the same shape) in protobuf: empty, or with a partial success (field 1: rejected_spans,
 * rejected_log_records or rejected_data_points = 1, error_message = 2).
 */
export function exportResponse(rejected: number, message: string): Buffer {
  if (rejected === 0) return Buffer.alloc(0);
  const partial = Buffer.concat([Buffer.from([0x08, ...encodeVarint(rejected)]), encodeBytesField(2, Buffer.from(message, 'utf8'))]);
  return encodeBytesField(1, partial);
}

/** What each signal's items are called, in counts and in partial-success messages. */
const WORDS: Record<OtlpSignal, { readonly invalid: string; readonly items: string; readonly request: string; readonly lane: string }> = {
  traces: { invalid: 'invalid_span', items: 'spans', request: 'trace', lane: 'trace lane' },
  logs: { invalid: 'invalid_log_record', items: 'log records', request: 'logs', lane: 'log lane' },
  metrics: { invalid: 'invalid_metric', items: 'data points', request: 'metrics', lane: 'metric pipeline' },
};

type Resolved<T> = { resource: HostResource; scopes: DecodedRequest<T>['resources'][number]['scopes'] }[];

export function createOtlpExportIngest(options: OtlpExportIngestOptions): OtlpExportIngest {
  const bySender = { traces: new Map<string, number>(), logs: new Map<string, number>(), metrics: new Map<string, number>() };
  const refused = { traces: new Map<string, number>(), logs: new Map<string, number>(), metrics: new Map<string, number>() };

  /**
   * Hands what a request decoded to its ingest, each resource as the registry holds it; counts it
   * by sender, in `units` (an item, or a metric's data points).
   */
  function take<T>(signal: OtlpSignal, decoded: DecodedRequest<T>, ingest: (resources: Resolved<T>, malformed: number) => { refused: number }, units: (item: T) => number = () => 1): number {
    const resolved = decoded.resources.map(({ resource, scopes }) => ({ resource: options.resources.exact(resource), scopes }));
    const { refused: full } = ingest(resolved, decoded.rejected);
    for (const { resource, scopes } of decoded.resources) {
      let count = 0;
      for (const scope of scopes) for (const item of scope.items) count += units(item);
      if (count > 0) bump(bySender[signal], senderOf(resource), count);
    }
    if (decoded.rejected > 0) bump(refused[signal], WORDS[signal].invalid, decoded.rejected);
    if (full > 0) bump(refused[signal], 'queue_full', full);
    return full;
  }

  // The sync the requests taken in this turn of the loop wait for.
  let pendingSync: Promise<boolean> | null = null;
  function durable(): Promise<boolean> {
    pendingSync ??= new Promise((resolve) =>
      setImmediate(() => {
        pendingSync = null;
        resolve(options.syncJournal());
      }),
    );
    return pendingSync;
  }

  /** Metrics go to the pipeline as they came, to leave with its next collection; none is refused for room. */
  function passOn(resources: Resolved<MetricData>, malformed: number): { refused: number } {
    let points = malformed;
    for (const { scopes } of resources) for (const scope of scopes) for (const metric of scope.items) points += pointsOf(metric);
    options.metricStats.received(points);
    if (malformed > 0) options.metricStats.rejected('invalid_metric', malformed);
    for (const { resource, scopes } of resources) {
      const scopeMetrics: ScopeMetrics[] = scopes.map(({ scope, items }) => ({ scope, metrics: [...items] }));
      options.metrics.passOn(scopeMetrics, resource);
    }
    return { refused: 0 };
  }

  return {
    admit() {
      if (options.isShuttingDown()) return { kind: 'retry', reason: 'stopping', message: 'codexd is stopping; send again to the next daemon' };
      if (options.memory.holding()) return { kind: 'retry', reason: 'memory', message: 'codexd is over its memory limit; send again later' };
      return null;
    },
    async take(signal, bytes, format) {
      // The sync is asked for first, so that it runs before any work the ingest schedules for
      // the same check phase (a lane serialising a full batch): the answer waits for the disk only.
      const synced = durable();
      let decoded: DecodedRequest<unknown>;
      let full: number;
      try {
        const parsed: unknown = format === 'json' ? JSON.parse(Buffer.from(bytes).toString('utf8')) : null;
        if (signal === 'traces') {
          const traces = format === 'json' ? decodeTraceJson(parsed) : decodeTraceRequest(bytes);
          full = take(signal, traces, options.spans.ingestOtlp);
          decoded = traces;
        } else if (signal === 'metrics') {
          const metrics = format === 'json' ? decodeMetricsJson(parsed) : decodeMetricsRequest(bytes);
          full = take(signal, metrics, passOn, pointsOf);
          decoded = metrics;
        } else {
          const logs = format === 'json' ? decodeLogsJson(parsed) : decodeLogsRequest(bytes);
          full = take(signal, logs, options.logs.ingestOtlp);
          decoded = logs;
        }
      } catch (error) {
        if (error instanceof ProtobufError || error instanceof SyntaxError) return { kind: 'invalid', message: `the body is not an OTLP ${WORDS[signal].request} export request: ${error.message}` };
        throw error;
      }
      // The answer says the data is the daemon's: on disk first. When it cannot be, the sender
      // is asked to send again (a duplicate is better than a loss it was told was none).
      if (!(await synced)) return { kind: 'retry', reason: 'not_durable', message: 'codexd could not make this durable (its journal cannot be written); send again' };
      const rejected = decoded.rejected + full;
      if (rejected === 0) return { kind: 'ok', rejected: 0, message: '' };
      const parts = [decoded.rejected > 0 ? `${decoded.rejected} malformed (${decoded.firstProblem ?? ''})` : '', full > 0 ? `${full} refused: the ${WORDS[signal].lane} is full` : ''];
      return { kind: 'ok', rejected, message: `${WORDS[signal].items}: ${parts.filter(Boolean).join('; ')}` };
    },
    counts: () => ({
      spansBySender: Object.fromEntries(bySender.traces),
      spansRefused: Object.fromEntries(refused.traces),
      logsBySender: Object.fromEntries(bySender.logs),
      logsRefused: Object.fromEntries(refused.logs),
      metricPointsBySender: Object.fromEntries(bySender.metrics),
      metricPointsRefused: Object.fromEntries(refused.metrics),
    }),
  };
}
