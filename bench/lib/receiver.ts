/**
 * Loads the project's real OTLP/gRPC receiver (test/support/otlp-receiver.ts), which Node runs
 * directly by stripping its types.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

import { ROOT } from './daemon.ts';

/** One decoded metric data point, as far as the benchmark reads it. */
export interface ReceivedPoint {
  readonly name: string;
  readonly kind: 'sum' | 'gauge' | 'histogram' | 'exponential_histogram' | 'summary';
  readonly temporality?: 'delta' | 'cumulative' | 'unspecified';
  /** Sum and gauge points. */
  readonly value?: number;
  /** Histogram points. */
  readonly count?: number;
  readonly sum?: number;
  readonly timeUnixNano: bigint;
}

/** The part of test/support/otlp-receiver.ts's OtlpReceiver the benchmark uses. */
export interface OtlpReceiver {
  readonly endpoint: string;
  readonly metricsRequests: unknown[];
  readonly logsRequests: unknown[];
  readonly tracesRequests: unknown[];
  /** Export calls answered with UNAVAILABLE while the behaviour was 'unavailable'. */
  readonly rejectedCalls: number;
  sumOf(name: string): number;
  histogramTotals(name: string): { count: number; sum: number };
  points(): ReceivedPoint[];
  logRecords(): unknown[];
  spans(): unknown[];
  /** Resolves once `predicate` holds; rejects after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /** 'unavailable' answers every export with gRPC UNAVAILABLE (and records nothing); 'ok' takes them. */
  setBehavior(behavior: 'ok' | 'unavailable' | 'hang'): void;
  close(): Promise<void>;
}

export type ReceiverModule = { startOtlpReceiver(opts?: { port?: number }): Promise<OtlpReceiver> };

export async function loadReceiverModule(): Promise<{ module: ReceiverModule }> {
  return { module: (await import(pathToFileURL(join(ROOT, 'test/support/otlp-receiver.ts')).href)) as ReceiverModule };
}
