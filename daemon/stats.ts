/**
 * Counts for one signal at every stage of the pipeline. `buffered` is derived, not kept:
 * accepted minus what has finished exporting one way or the other.
 */
import type { SignalCounts } from '../protocol/index.js';

export interface SignalStats {
  /** Records that arrived, valid or not. */
  received(count: number): void;
  accepted(count: number): void;
  rejected(reason: string, count?: number): void;
  exported(count: number): void;
  /** Accepted records lost because their export failed. Also counted as dropped. */
  failed(count: number, reason: string): void;
  /** Records dropped before acceptance (by a client, or while shutting down). */
  dropped(reason: string, count: number): void;
  /** Accepted records written to the disk spool, for this daemon or a later one to send. */
  spooled(count: number): void;
  /** Accepted records not yet exported or failed. */
  buffered(): number;
  /** Records accepted so far (the journal reads it per record: no snapshot made). */
  acceptedCount(): number;
  /** Records exported, failed or spooled so far. */
  settledCount(): number;
  snapshot(): SignalCounts;
}

function bump(map: Map<string, number>, key: string, count: number): void {
  map.set(key, (map.get(key) ?? 0) + count);
}

function total(map: Map<string, number>): number {
  let sum = 0;
  for (const value of map.values()) sum += value;
  return sum;
}

/** `onSettled` is told whenever records leave the daemon's hands (exported, failed, spooled). */
export function createSignalStats(onSettled?: () => void): SignalStats {
  let received = 0;
  let accepted = 0;
  let exported = 0;
  let failed = 0;
  let spooled = 0;
  const rejected = new Map<string, number>();
  const dropped = new Map<string, number>();
  return {
    received(count) {
      received += count;
    },
    accepted(count) {
      accepted += count;
    },
    rejected(reason, count = 1) {
      bump(rejected, reason, count);
    },
    exported(count) {
      exported += count;
      onSettled?.();
    },
    failed(count, reason) {
      failed += count;
      bump(dropped, reason, count);
      onSettled?.();
    },
    dropped(reason, count) {
      bump(dropped, reason, count);
    },
    spooled(count) {
      spooled += count;
      onSettled?.();
    },
    buffered() {
      return accepted - exported - failed - spooled;
    },
    acceptedCount: () => accepted,
    settledCount: () => exported + failed + spooled,
    snapshot() {
      return {
        received,
        accepted,
        rejected: Object.fromEntries(rejected),
        rejectedTotal: total(rejected),
        buffered: accepted - exported - failed - spooled,
        exported,
        failed,
        spooled,
        dropped: Object.fromEntries(dropped),
        droppedTotal: total(dropped),
      };
    },
  };
}
