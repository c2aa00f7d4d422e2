/** What changed in a signal's counts (`daemon/status` `signals`) between two answers. */
import { setTimeout as sleep } from 'node:timers/promises';

import type { DaemonStatus, SignalCounts } from '../../dist/protocol/index.js';
import type { RunningDaemon } from './daemon.ts';

export interface LaneDelta {
  readonly received: number;
  readonly accepted: number;
  readonly exported: number;
  readonly failed: number;
  readonly rejected: number;
  readonly dropped: Readonly<Record<string, number>>;
}

/**
 * A signal's counts with `exported` counting what its export queue sent from disk too: a queue
 * that falls behind spills to its spool (`spooled`) and sends from there (`queue.replayed`).
 */
export function delivered(status: DaemonStatus.Result, signal: 'metrics' | 'logs' | 'traces'): SignalCounts {
  const counts = status.signals[signal];
  const fromDisk = status.exporters.find((exporter) => exporter.signal === signal)?.queue?.replayed.exported ?? 0;
  return { ...counts, exported: counts.exported + fromDisk };
}

/** What changed in one lane's counts between two `daemon/status` answers; `dropped` holds the reasons that grew. */
export function laneDelta(before: SignalCounts, after: SignalCounts): LaneDelta {
  const dropped: Record<string, number> = {};
  for (const [reason, count] of Object.entries(after.dropped)) {
    const more = count - (before.dropped[reason] ?? 0);
    if (more > 0) dropped[reason] = more;
  }
  return {
    received: after.received - before.received,
    accepted: after.accepted - before.accepted,
    exported: after.exported - before.exported,
    failed: after.failed - before.failed,
    rejected: after.rejectedTotal - before.rejectedTotal,
    dropped,
  };
}

/** Polls `daemon/status` until `ready(status)` and both event lanes hold nothing unexported (at most 10 s). */
export async function settled(daemon: RunningDaemon, ready: (status: DaemonStatus.Result) => boolean): Promise<DaemonStatus.Result> {
  let status = await daemon.status();
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (ready(status) && status.signals.logs.buffered === 0 && status.signals.traces.buffered === 0) break;
    await sleep(10);
    status = await daemon.status();
  }
  return status;
}
