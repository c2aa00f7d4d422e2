/**
 * A metric reader that collects and exports on an interval, one export at a time, and keeps
 * exact books: the records accepted before a collection are the ones that collection's export
 * carries, so `exported`, `failed` and `buffered` in status are record counts, not guesses.
 *
 * Exactness rests on one ordering fact: records are aggregated synchronously on socket data
 * events, and a collection takes the count and the aggregated points in the same turn, so no
 * record can land between the two.
 */
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';

import { createExportAccounting, type ExportHealth } from './export-accounting.js';
import type { CountedMetricExporter } from './delivery/queued-exporters.js';
import type { SignalStats } from './stats.js';

export interface AccountedReaderOptions {
  /** Queues each export for delivery; the queue counts the records when it sends them. */
  readonly exporter: CountedMetricExporter;
  readonly stats: SignalStats;
  readonly intervalMs: number;
  /** Longest one export may take before its records are counted as failed. */
  readonly exportTimeoutMs: number;
  /**
   * Records accepted and not yet covered by a collection, and the batches (each with the records
   * it stands for) to pass on with it as they are; the reader takes both to nothing.
   */
  readonly takeUncollected: () => { readonly records: number; readonly passed: readonly (readonly [ResourceMetrics, number])[] };
  /** What was aggregated since the last collection (metric-aggregation.ts), taken to nothing. */
  readonly collect: () => ResourceMetrics;
  readonly onError: (message: string) => void;
}

export interface AccountedReader {
  /**
   * Stops counting: exports that settle from now on change no count. A stop calls it when its
   * deadline passes and it counts what is left as dropped itself.
   */
  abandon(): void;
  /** Runs one collection and export after any that is under way; resolves true on success. */
  exportNow(): Promise<boolean>;
  /**
   * Says records were accepted: the interval runs from now until a collection finds nothing
   * (every export is delta), so a daemon with nothing to export sets no timer.
   */
  wake(): void;
  health(): ExportHealth;
  /** Stops the interval, exports what is left and shuts the exporter down. */
  shutdown(): Promise<void>;
}

function exportOnce(exporter: CountedMetricExporter, metrics: ResourceMetrics | null, records: number, passed: readonly (readonly [ResourceMetrics, number])[], timeoutMs: number): Promise<ExportResult> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: ExportResultCode.FAILED, error: new Error(`export timed out after ${timeoutMs} ms`) }), timeoutMs);
    timer.unref();
    try {
      const done = (result: ExportResult): void => {
        clearTimeout(timer);
        resolve(result);
      };
      exporter.exportCounted(metrics, records, passed, done);
    } catch (error) {
      clearTimeout(timer);
      resolve({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  });
}

export function createAccountedReader(options: AccountedReaderOptions): AccountedReader {
  const { exporter, stats } = options;
  let running: Promise<boolean> | null = null;
  let queued: Promise<boolean> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let shutDown = false;
  const books = createExportAccounting('metrics', stats, options.onError);

  function failed(covered: number, message: string): false {
    books.failed(covered, message);
    return false;
  }

  async function run(): Promise<boolean> {
    // Taken in the same turn as the collection starts: nothing can land between the two.
    const { records, passed } = options.takeUncollected();
    // Nothing accepted since the last collection: the interval stops until the next record.
    if (records === 0 && passed.length === 0) sleep();
    let covered = records + passed.reduce((sum, [, count]) => sum + count, 0);
    let result: ExportResult;
    try {
      const resourceMetrics = options.collect();
      const collected = resourceMetrics.scopeMetrics.length === 0 ? null : resourceMetrics;
      if (collected === null) {
        // Nothing aggregated to export: its records (if any) settle here.
        if (!books.abandoned) stats.exported(records);
        covered -= records;
        if (passed.length === 0) return true;
      }
      result = await exportOnce(exporter, collected, collected === null ? 0 : records, passed, options.exportTimeoutMs);
    } catch (error) {
      return failed(covered, error instanceof Error ? error.message : String(error));
    }
    if (result.code === ExportResultCode.SUCCESS) {
      books.succeeded();
      return true;
    }
    return failed(covered, result.error?.message ?? 'export failed');
  }

  function start(): Promise<boolean> {
    const current = run().finally(() => {
      running = null;
    });
    running = current;
    return current;
  }

  function exportNow(): Promise<boolean> {
    if (running === null) return start();
    // One run may wait behind the current one; every caller arriving meanwhile shares it,
    // and it collects after all of them arrived.
    queued ??= running.then(
      () => {
        queued = null;
        return start();
      },
      () => {
        queued = null;
        return start();
      },
    );
    return queued;
  }

  function wake(): void {
    if (timer !== null || shutDown) return;
    timer = setInterval(() => {
      // A tick that finds an export under way skips: its records ride the next collection.
      if (running === null) void exportNow();
    }, options.intervalMs);
    timer.unref();
  }

  function sleep(): void {
    if (timer !== null) clearInterval(timer);
    timer = null;
  }

  return {
    abandon: books.abandon,
    exportNow,
    wake,
    health: books.health,
    async shutdown() {
      // Order: no more ticks, one last collection and export, then the exporter's own shutdown.
      shutDown = true;
      sleep();
      await exportNow();
      await exporter.shutdown();
    },
  };
}
