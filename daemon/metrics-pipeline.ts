/**
 * The daemon's metric pipeline: validated records are aggregated into delta data points, as the
 * OpenTelemetry SDK's MeterProvider would aggregate them (metric-aggregation.ts; meter `codex`),
 * which an accounted reader collects and exports on an interval. Metrics an OpenTelemetry SDK
 * exported over OTLP (otlp/) are already aggregated: they wait beside the aggregation,
 * untouched, and leave with the next collection, in the same export.
 *
 *   records --> instruments (one per name and host) --> aggregation --> AccountedReader --> exporter
 *   OTLP metrics (as sent) --> passed on ----------------------------------^   (counts exported/failed)
 */
import type { Resource } from '@opentelemetry/resources';
import type { ResourceMetrics, ScopeMetrics } from '@opentelemetry/sdk-metrics';

import { type ExporterStatus, type MetricKind, type MetricRecord, type MetricRecordBatch, measurementsOf } from '../protocol/index.js';
import { deadline } from './deadline.js';
import type { CountedMetricExporter } from './delivery/queued-exporters.js';
import { createAccountedReader } from './accounted-metric-reader.js';
import { type HostResource, hostMeterVersion } from './host-resources.js';
import { type AggregationMeter, createMetricAggregation } from './metric-aggregation.js';
import { DISABLED_HEALTH } from './export-accounting.js';
import type { SignalStats } from './stats.js';

/**
 * Histogram bucket bounds in milliseconds. OpenTelemetry's defaults stop at 10 s; model calls
 * and turns run for minutes, so the tail goes to 5 minutes.
 */
export const HISTOGRAM_BOUNDARIES_MS: readonly number[] = [
  0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, 30000, 60000, 120000, 300000,
];

/** Distinct tag sets kept per instrument between two exports; beyond it points are folded into an overflow series, as the SDK does. */
export const CARDINALITY_LIMIT = 2000;

export interface MetricsPipelineOptions {
  /** The resource collections are made under: the daemon's own; points of other hosts are regrouped at export. */
  readonly resource: Resource;
  /** Queues each export for delivery (delivery/queued-exporters.ts). */
  readonly exporter: CountedMetricExporter;
  /**
   * The exporter as configured now, read per record and per status: while its kind is `none`,
   * records are still checked, then counted as dropped (`exporter_disabled`).
   */
  readonly describe: () => { readonly kind: ExporterStatus['kind']; readonly endpoint: string | null };
  readonly stats: SignalStats;
  readonly intervalMs: number;
  readonly exportTimeoutMs: number;
  readonly onError: (message: string) => void;
  /** Sees every record aggregated, with its host's resource, for the journal (not called when export is turned off). */
  readonly onAccepted?: (records: readonly MetricRecord[], resource: HostResource) => void;
  /** Sees every batch of OTLP metrics taken to pass on, for the journal (not called when export is turned off). */
  readonly onPassed?: (scopes: readonly ScopeMetrics[], resource: HostResource) => void;
}

export interface FlushOutcome {
  readonly complete: boolean;
  readonly timedOut: boolean;
}

export interface MetricsPipeline {
  /**
   * Aggregates valid records. A record whose name is already an instrument of another kind is
   * rejected into `rejected` (one name would be exported as two metrics).
   * Returns how many measurements were accepted. Does not count `received`; the caller does.
   */
  record(records: readonly MetricRecord[], indexOf: (position: number) => number, rejected: MetricRecordBatch.Rejection[], resource: HostResource): number;
  /**
   * Takes metrics an SDK aggregated and exported over OTLP, to pass on at the next collection
   * exactly as they are, under `resource`: never merged with other series, never re-bucketed.
   * Counts each data point as a record accepted (`received` is the caller's). Returns the points.
   */
  passOn(scopes: readonly ScopeMetrics[], resource: HostResource): number;
  /** Exports everything accepted so far, waiting at most `timeoutMs`. */
  forceFlush(timeoutMs: number): Promise<FlushOutcome>;
  /** Exports what is left and stops; a second call returns the first call's promise. */
  shutdown(options: { timeoutMillis: number }): Promise<void>;
  exporterStatus(): ExporterStatus;
}

const NO_TAGS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Checks a record's kind against the first kind seen for its name; a conflict is pushed to
 * `rejected` and false returned. One name would otherwise be exported as two metrics.
 */
function kindAllowed(kinds: Map<string, MetricKind>, record: MetricRecord, index: number, rejected: MetricRecordBatch.Rejection[]): boolean {
  const known = kinds.get(record.name);
  if (known === undefined) {
    kinds.set(record.name, record.kind);
    return true;
  }
  if (known === record.kind) return true;
  rejected.push({ index, code: 'kind_conflict', message: `records[${index}].kind: metric "${record.name}" is already a ${known}` });
  return false;
}

/** Creates the pipeline; nothing is exported until the first interval or flush. */
export function createMetricsPipeline(options: MetricsPipelineOptions): MetricsPipeline {
  let uncollected = 0;
  // OTLP metrics waiting for the next collection, each resource's scopes together.
  let passed = new Map<HostResource, { scopes: ScopeMetrics[]; points: number }>();
  const aggregation = createMetricAggregation({ boundaries: HISTOGRAM_BOUNDARIES_MS, cardinalityLimit: CARDINALITY_LIMIT });
  const accounted = createAccountedReader({
    exporter: options.exporter,
    stats: options.stats,
    intervalMs: options.intervalMs,
    exportTimeoutMs: options.exportTimeoutMs,
    takeUncollected: () => {
      const records = uncollected;
      uncollected = 0;
      const batches: [ResourceMetrics, number][] = [];
      for (const [resource, { scopes, points }] of passed) batches.push([{ resource: resource.resource, scopeMetrics: scopes }, points]);
      if (batches.length > 0) passed = new Map();
      return { records, passed: batches };
    },
    collect: () => ({ resource: options.resource, scopeMetrics: aggregation.collect(Date.now()) }),
    onError: options.onError,
  });
  // One meter per host resource, all named `codex`: a host's series are its own in aggregation
  // (two hosts never merge into one series) and are found by the meter's version at export,
  // where they are put under the host's resource (delivery/queued-exporters.ts).
  const meters = new Map<number, AggregationMeter>();
  function meterOf(resource: HostResource): AggregationMeter {
    let found = meters.get(resource.id);
    if (found === undefined) {
      found = aggregation.meter({ name: 'codex', version: resource.id === 0 ? '' : hostMeterVersion(resource.id) });
      meters.set(resource.id, found);
    }
    return found;
  }
  const kinds = new Map<string, MetricKind>();
  let shutdownPromise: Promise<void> | null = null;

  return {
    record(records, indexOf, rejected, resource) {
      let accepted = 0;
      if (options.describe().kind === 'none') {
        // Export is off: checked and counted, not kept.
        for (let position = 0; position < records.length; position++) {
          const record = records[position] as MetricRecord;
          if (kindAllowed(kinds, record, indexOf(position), rejected)) accepted += measurementsOf(record);
        }
        options.stats.accepted(accepted);
        options.stats.failed(accepted, 'exporter_disabled');
        return accepted;
      }
      const taken: MetricRecord[] | null = options.onAccepted === undefined ? null : [];
      const meter = meterOf(resource);
      // One clock reading a batch: a series starts when its batch was aggregated.
      const now = Date.now();
      for (let position = 0; position < records.length; position++) {
        const record = records[position] as MetricRecord;
        let instrument = meter.instrument(record.name);
        if (instrument === undefined) {
          if (!kindAllowed(kinds, record, indexOf(position), rejected)) continue;
          instrument = meter.create(record.name, record.kind);
        } else if (instrument.kind !== record.kind) {
          kindAllowed(kinds, record, indexOf(position), rejected);
          continue;
        }
        taken?.push(record);
        // A counter's increments gathered by the daemon (metrics it derives) are added at once, each counted.
        const values = record.values;
        instrument.record(values ?? (record.value as number), record.tags ?? NO_TAGS, now);
        accepted += values === undefined ? 1 : values.length;
      }
      uncollected += accepted;
      if (accepted > 0) accounted.wake();
      options.stats.accepted(accepted);
      if (taken !== null && taken.length > 0) options.onAccepted?.(taken, resource);
      return accepted;
    },

    passOn(scopes, resource) {
      let points = 0;
      const kept: ScopeMetrics[] = [];
      for (const scope of scopes) {
        const metrics = scope.metrics.filter((metric) => metric.dataPoints.length > 0);
        for (const metric of metrics) points += metric.dataPoints.length;
        if (metrics.length > 0) kept.push(metrics.length === scope.metrics.length ? scope : { ...scope, metrics });
      }
      if (points === 0) return 0;
      options.stats.accepted(points);
      if (options.describe().kind === 'none') {
        options.stats.failed(points, 'exporter_disabled');
        return points;
      }
      const held = passed.get(resource);
      if (held === undefined) passed.set(resource, { scopes: kept, points });
      else {
        held.scopes.push(...kept);
        held.points += points;
      }
      accounted.wake();
      options.onPassed?.(kept, resource);
      return points;
    },

    async forceFlush(timeoutMs) {
      const failedBefore = options.stats.snapshot().failed;
      const outcome = await deadline(accounted.exportNow(), timeoutMs);
      if (outcome === 'timeout') return { complete: false, timedOut: true };
      // An export under way when the call came may carry records accepted before it: if it
      // failed, the flush is not complete even though the run the flush started succeeded.
      return { complete: outcome && options.stats.snapshot().failed === failedBefore, timedOut: false };
    },

    shutdown({ timeoutMillis }) {
      shutdownPromise ??= (async () => {
        // Order: the reader's shutdown stops its timer, runs one last collection and export,
        // then shuts the exporter down. The deadline bounds all of it; records still
        // unexported when it passes are counted as dropped, never silently lost.
        const outcome = await deadline(accounted.shutdown(), timeoutMillis).catch((error: unknown) => {
          options.onError(`metrics shutdown: ${error instanceof Error ? error.message : String(error)}`);
          return 'failed' as const;
        });
        if (outcome === 'timeout') {
          // Whatever the abandoned export does later, it no longer counts: what is left now is
          // counted here, once.
          accounted.abandon();
          const left = options.stats.buffered();
          if (left > 0) options.stats.failed(left, 'shutdown_deadline');
        }
      })();
      return shutdownPromise;
    },

    exporterStatus(): ExporterStatus {
      const { kind, endpoint } = options.describe();
      return { signal: 'metrics', kind, endpoint, ...(kind === 'none' ? DISABLED_HEALTH : accounted.health()) };
    },
  };
}
