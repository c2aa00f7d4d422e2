/** Row 7's readings of `daemon/status` and of what its receiver took: queues, losses, records sent. */
import type { DaemonStatus, QueueStatus, Signal } from '../../dist/protocol/index.js';
import { laneDelta } from '../lib/lanes.ts';
import type { ReceivedPoint } from '../lib/receiver.ts';
import { SIGNALS } from './outage-result.ts';

/**
 * The records a set of received metric points stands for: each histogram point's count, plus
 * each sum point's value (every counter here, the clients' readiness counter and the daemon's
 * derived ones, adds 1 per record, and all points are delta).
 */
export function recordsInPoints(points: readonly ReceivedPoint[]): number {
  let records = 0;
  for (const point of points) {
    if (point.temporality === 'cumulative') throw new Error(`row 7: ${point.name} arrived as a cumulative point; delta was expected`);
    if (point.kind === 'histogram') records += point.count ?? 0;
    else if (point.kind === 'sum') records += point.value ?? 0;
  }
  return records;
}

export function queueOf(status: DaemonStatus.Result, signal: Signal): QueueStatus | undefined {
  return status.exporters.find((exporter) => exporter.signal === signal)?.queue;
}

/** Records of one signal the daemon lost after accepting them: export failures, the spool's bound, damaged spool batches, replays refused. */
export function lostAfterAcceptance(before: DaemonStatus.Result, after: DaemonStatus.Result, signal: Signal): { total: number; byReason: Record<string, number> } {
  const delta = laneDelta(before.signals[signal], after.signals[signal]);
  const byReason: Record<string, number> = {};
  // `failed` reasons are in `dropped` too; spool_full and spool_corrupt only there.
  for (const [reason, count] of Object.entries(delta.dropped)) byReason[reason] = count;
  const replayedDropped = (queueOf(after, signal)?.replayed.dropped ?? 0) - (queueOf(before, signal)?.replayed.dropped ?? 0);
  if (replayedDropped > 0) byReason.replay_refused = replayedDropped;
  return { total: Object.values(byReason).reduce((sum, count) => sum + count, 0), byReason };
}

/** Metric records a daemon has sent: `exported` (from memory) + `queue.replayed.exported` (from its spool). */
export function sentByStatus(status: DaemonStatus.Result, signal: Signal): number {
  return status.signals[signal].exported + (queueOf(status, signal)?.replayed.exported ?? 0);
}

/** Every signal has sent everything: nothing buffered, no batch in memory, no spool segment. */
export function drainedStatus(status: DaemonStatus.Result): boolean {
  return SIGNALS.every((signal) => status.signals[signal].buffered === 0 && (queueOf(status, signal)?.memoryBatches ?? 0) === 0 && (queueOf(status, signal)?.spooledSegments ?? 0) === 0);
}
