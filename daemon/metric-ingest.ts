/**
 * Ingests one `metric/record` batch, wherever it came from (a connection or a hand-off file):
 * check it, count it, hand the valid records to the pipeline. Pure bookkeeping around
 * protocol/'s checks; no I/O.
 */
import { BATCH_REJECTION, checkMetricBatch, ErrorCodes, measurementCount, measurementsOf, type MetricRecordBatch } from '../protocol/index.js';
import type { MetricsPipeline } from './metrics-pipeline.js';
import type { SignalStats } from './stats.js';

export type IngestOutcome =
  | { readonly ok: true; readonly received: number; readonly result: MetricRecordBatch.Result }
  | { readonly ok: false; readonly received: number; readonly code: number; readonly message: string; readonly protocolError: string };

/** Maps each valid record's position among the valid ones back to its index in the batch. */
function validPositions(total: number, rejected: readonly MetricRecordBatch.Rejection[]): number[] {
  const bad = new Set(rejected.map((rejection) => rejection.index));
  const positions: number[] = [];
  for (let index = 0; index < total; index++) if (!bad.has(index)) positions.push(index);
  return positions;
}

/**
 * Ingests one batch. All counts are of measurements: a histogram record with a `values` array
 * counts each value, whether it is accepted or rejected.
 */
export function ingestMetricBatch(params: unknown, metrics: MetricsPipeline, stats: SignalStats): IngestOutcome {
  const checked = checkMetricBatch(params);
  const received = checked.ok ? checked.value.measurements : measurementCount(params);
  stats.received(received);
  if (!checked.ok) {
    stats.rejected(BATCH_REJECTION, received);
    const tooLarge = checked.tooLarge === true;
    return {
      ok: false,
      received,
      code: tooLarge ? ErrorCodes.BatchTooLarge : ErrorCodes.InvalidParams,
      message: checked.message,
      protocolError: tooLarge ? 'batch_too_large' : 'invalid_params',
    };
  }
  const { records, rejected, dropped } = checked.value;
  const raw = (params as { records: unknown[] }).records;
  for (const [reason, count] of dropped) stats.dropped(`client_${reason.replace(/^client_/, '')}`, count);
  // Valid records keep their batch positions for messages about kind conflicts.
  const positions = rejected.length === 0 ? null : validPositions(received, rejected);
  const checkFailures = rejected.length;
  const accepted = metrics.record(records, (position) => (positions === null ? position : (positions[position] as number)), rejected);
  if (rejected.length > checkFailures) rejected.sort((a, b) => a.index - b.index);
  for (const rejection of rejected) stats.rejected(rejection.code, measurementsOf(raw[rejection.index]));
  return { ok: true, received, result: { accepted, rejected } };
}
