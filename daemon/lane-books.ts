/**
 * The books of one lane: what it holds unexported (records and characters, the bounds it admits
 * against), and an exporter wrapper that settles every record it is handed exactly once.
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';

import type { ExporterState, ExporterStatus, Signal } from '../protocol/index.js';
import type { SignalStats } from './stats.js';

/** What a lane holds unexported, in characters; the accounted exporter releases what it settles. */
export interface LaneHold {
  chars: number;
  /** Records taken and not yet handed over by an export (settled, or queued for delivery). */
  records: number;
}

export interface LaneBooks {
  abandon(): void;
  health(): Pick<ExporterStatus, 'state' | 'exportsSucceeded' | 'exportsFailed' | 'lastSuccessAt' | 'lastError'>;
}

export const DISABLED_HEALTH = { state: 'disabled', exportsSucceeded: 0, exportsFailed: 0, lastSuccessAt: null, lastError: null } as const;

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
  let succeeded = 0;
  let failedExports = 0;
  let lastSuccessAt: string | null = null;
  let lastError: { at: string; message: string } | null = null;
  let abandoned = false;
  return {
    export(items, done) {
      let settled = false;
      const settle = (result: ExportResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        for (const item of items) hold.chars -= weigh(item);
        hold.records -= items.length;
        if (!abandoned) {
          if (result.code === ExportResultCode.SUCCESS) {
            // Queued for delivery, not sent: the queue counts the records when it sends them.
            succeeded++;
            lastSuccessAt = new Date().toISOString();
          } else {
            failedExports++;
            const message = result.error?.message ?? 'export failed';
            lastError = { at: new Date().toISOString(), message };
            stats.failed(items.length, 'export_failed');
            onError(`${signal} export failed, ${items.length} records lost: ${message}`);
          }
        }
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
    abandon() {
      abandoned = true;
    },
    health() {
      const state: ExporterState = lastError !== null && (lastSuccessAt === null || lastError.at > lastSuccessAt) ? 'failing' : lastSuccessAt !== null ? 'ok' : 'idle';
      return { state, exportsSucceeded: succeeded, exportsFailed: failedExports, lastSuccessAt, lastError };
    },
  };
}
