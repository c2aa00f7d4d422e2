/**
 * The books every signal keeps of its exports, metrics and both event lanes alike: how many
 * exports were handed to delivery and how many failed, the last of each, the health status
 * shows, and the records a failed export loses (counted, and reported once per interval).
 */
import type { ExporterState, ExporterStatus, Signal } from '../protocol/index.js';
import type { SignalStats } from './stats.js';

export type ExportHealth = Pick<ExporterStatus, 'state' | 'exportsSucceeded' | 'exportsFailed' | 'lastSuccessAt' | 'lastError'>;

/** The health of a signal whose exporter is `none`. */
export const DISABLED_HEALTH: ExportHealth = { state: 'disabled', exportsSucceeded: 0, exportsFailed: 0, lastSuccessAt: null, lastError: null };

export interface ExportAccounting {
  /** An export was handed to delivery (queued, not yet sent: the queue counts its records when it sends them). */
  succeeded(): void;
  /** An export failed: its `records` are lost, counted as `export_failed`. */
  failed(records: number, message: string): void;
  /**
   * Stops counting: exports that settle from now on change no count. A stop calls it when its
   * deadline passes and it counts what is left as dropped itself.
   */
  abandon(): void;
  readonly abandoned: boolean;
  health(): ExportHealth;
}

export function createExportAccounting(signal: Signal, stats: SignalStats, onError: (message: string) => void): ExportAccounting {
  let succeeded = 0;
  let failedExports = 0;
  let lastSuccessAt: string | null = null;
  let lastError: { at: string; message: string } | null = null;
  let abandoned = false;
  return {
    succeeded() {
      if (abandoned) return;
      succeeded++;
      lastSuccessAt = new Date().toISOString();
    },
    failed(records, message) {
      if (abandoned) return;
      failedExports++;
      lastError = { at: new Date().toISOString(), message };
      stats.failed(records, 'export_failed');
      onError(`${signal} export failed, ${records} records lost: ${message}`);
    },
    abandon() {
      abandoned = true;
    },
    get abandoned() {
      return abandoned;
    },
    health() {
      const state: ExporterState = lastError !== null && (lastSuccessAt === null || lastError.at > lastSuccessAt) ? 'failing' : lastSuccessAt !== null ? 'ok' : 'idle';
      return { state, exportsSucceeded: succeeded, exportsFailed: failedExports, lastSuccessAt, lastError };
    },
  };
}
