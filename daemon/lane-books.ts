/**
 * The books of one lane: what it holds unexported (records and characters, the bounds it admits
 * against), and an exporter wrapper that settles every record it is handed exactly once.
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';

import type { Signal } from '../protocol/index.js';
import { createExportAccounting, type ExportHealth } from './export-accounting.js';
import type { SignalStats } from './stats.js';

/** What a lane holds unexported, in characters; the accounted exporter releases what it settles. */
export interface LaneHold {
  chars: number;
  /** Records taken and not yet handed over by an export (settled, or queued for delivery). */
  records: number;
}

export interface LaneBooks {
  abandon(): void;
  health(): ExportHealth;
}

/**
 * Wraps a lane's exporter so every record it is handed leaves the lane's books once: queued for
 * delivery (the export queue counts it when it is sent), or counted as failed. Its own timeout
 * settles an export that hangs before the processor's does; a late answer is then ignored.
 * `weigh` must give a record the weight the lane admitted it with.
 */
export function accountedExporter<T>(
  signal: Signal,
  exporter: { export(items: T[], done: (result: ExportResult) => void): void },
  options: { readonly stats: SignalStats; readonly hold: LaneHold; readonly weigh: (item: T) => number; readonly timeoutMs: number; readonly onError: (message: string) => void },
): { export(items: T[], done: (result: ExportResult) => void): void } & LaneBooks {
  const { stats, hold, weigh, timeoutMs, onError } = options;
  const books = createExportAccounting(signal, stats, onError);
  return {
    export(items, done) {
      let settled = false;
      const settle = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const item of items) hold.chars -= weigh(item);
        hold.records -= items.length;
        if (result.code === ExportResultCode.SUCCESS) books.succeeded();
        else books.failed(items.length, result.error?.message ?? 'export failed');
        done(result);
      };
      const timer = setTimeout(() => settle({ code: ExportResultCode.FAILED, error: new Error(`export timed out after ${timeoutMs} ms`) }), timeoutMs);
      timer.unref();
      try {
        exporter.export(items, settle);
      } catch (error) {
        settle({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
      }
    },
    abandon: books.abandon,
    health: books.health,
  };
}
