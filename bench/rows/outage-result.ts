/** What one run of row 7 yields, per signal, and how the checks and the doc print it. */
import type { Signal } from '../../dist/protocol/index.js';

export const SIGNALS = ['metrics', 'logs', 'traces'] as const satisfies readonly Signal[];
export type PerSignal<T> = Record<Signal, T>;
export const MIB = 1024 * 1024;

export function perSignal<T>(make: (signal: Signal) => T): PerSignal<T> {
  return { metrics: make('metrics'), logs: make('logs'), traces: make('traces') };
}

/** One run of row 7: the hour recorded while the receiver is down (or, for comparison, up). */
export interface OutageVariant {
  readonly label: string;
  readonly receiverDown: boolean;
  readonly spoolMaxBytes: number;
  /** Runs the in-process SDK baseline alongside, to its own receiver, down and back at the same moments. */
  readonly withSdk: boolean;
}

export interface OutageSdkResult {
  readonly records: number;
  readonly valueSum: number;
  readonly exportsOk: number;
  readonly exportsFailed: number;
  readonly recordsOk: number;
  readonly recordsFailed: number;
  readonly firstError: string | null;
  readonly shutdownMs: number;
  /** What its receiver took. */
  readonly delivered: number;
  readonly rejectedCalls: number;
}

export interface OutageResult {
  readonly variant: OutageVariant;
  /** Histogram records the clients recorded during the outage, and session events they sent. */
  readonly records: number;
  readonly events: number;
  /** Metric measurements the daemon derived from those events (2 per tool result and API request). */
  readonly derived: number;
  /** From "go" to the last client's exit, and from the receiver going down to coming back. */
  readonly recordMs: number;
  readonly outageMs: number;
  /** Export calls the daemon's receiver answered UNAVAILABLE. */
  readonly rejectedCalls: number;
  readonly rssBefore: number | null;
  /** The highest VmRSS seen at a poll during the outage, and during the drain. */
  readonly rssPeakOutage: number | null;
  readonly rssPeakDrain: number | null;
  readonly polls: number;
  /** Peaks seen at the polls: `queue.memoryBytes`, `queue.spooledBytes`, the spool folders' files, the journal folder's files. */
  readonly peakMemory: PerSignal<number>;
  readonly peakSpooledStatus: PerSignal<number>;
  readonly peakSpoolFolder: PerSignal<number>;
  readonly peakJournal: number;
  /** The largest single journal file seen at a poll (a file holds one 2 s rotation). */
  readonly peakJournalFile: number;
  readonly journalAtEnd: number;
  /** Bytes left in each spool folder once drained. */
  readonly spoolAtEnd: PerSignal<number>;
  /** Records each signal spilled to disk (`queue.spooled`), and batches its receiver took after the recovery. */
  readonly spooled: PerSignal<number>;
  readonly drainBatches: PerSignal<number>;
  /** From the recovery to the first batch the receiver took, and to the poll that saw everything sent. */
  readonly firstDeliveryMs: number;
  readonly drainMs: number;
  readonly drained: boolean;
  /** Metric records sent during the drain (`exported` + `queue.replayed.exported`). */
  readonly drainRecords: number;
  /** Per signal: accepted during the outage, lost after acceptance (by reason), delivered as the receiver counts it, and as status counts it. */
  readonly accepted: PerSignal<number>;
  readonly lost: PerSignal<{ total: number; byReason: Record<string, number> }>;
  readonly delivered: PerSignal<number>;
  readonly deliveredByStatus: PerSignal<number>;
  /** The clients' histogram alone: count and sum of values at the receiver, and the sum the clients recorded. */
  readonly histogramCount: number;
  readonly histogramSum: number;
  readonly recordedSum: number;
  readonly clientDropped: Record<string, number>;
  readonly sdk: OutageSdkResult | null;
}

export const mib = (bytes: number | null): string => (bytes === null ? 'n/a' : `${(bytes / MIB).toFixed(1)} MiB`);
export const count = (value: number): string => value.toLocaleString('en-US');
export const bySignal = (values: PerSignal<number>, format: (value: number) => string): string => SIGNALS.map((signal) => `${signal} ${format(values[signal])}`).join(', ');
/** The daemon's highest RSS at a poll, outage and drain together. */
export const rssPeakOf = (run: OutageResult): number | null => (run.rssPeakOutage === null ? null : Math.max(run.rssPeakOutage, run.rssPeakDrain ?? 0));
