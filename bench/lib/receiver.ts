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
  /** Hands each request of a signal received so far to `each`, decoded, and forgets it, giving the event loop a turn after each. */
  consume(signal: 'metrics' | 'logs' | 'traces', each: (request: unknown) => void): Promise<void>;
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

/** Records in a decoded export request: `outer` resources, `inner` scopes, `leaf` records (`resource_logs`, `scope_logs`, `log_records`). */
function recordsIn(request: unknown, outer: string, inner: string, leaf: string): number {
  let count = 0;
  for (const resource of (request as Record<string, Record<string, Record<string, unknown[]>[]>[]>)[outer] ?? []) {
    for (const scope of resource[inner] ?? []) count += scope[leaf]?.length ?? 0;
  }
  return count;
}

/** Counts the log records and spans the receiver took since the last call, one request at a time (`consume`), keeping none of them. */
export async function consumeLogsAndSpans(receiver: OtlpReceiver): Promise<{ logs: number; spans: number }> {
  const taken = { logs: 0, spans: 0 };
  await receiver.consume('logs', (request) => (taken.logs += recordsIn(request, 'resource_logs', 'scope_logs', 'log_records')));
  await receiver.consume('traces', (request) => (taken.spans += recordsIn(request, 'resource_spans', 'scope_spans', 'spans')));
  return taken;
}
