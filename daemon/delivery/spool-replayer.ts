/**
 * The replay stage of an export queue: what an earlier daemon, or a spill of this one, left in
 * the segment spool goes out before anything in memory (it is older), the oldest segment first,
 * batch by batch, and the spool learns after each send how far the segment has gone.
 *
 *   spool.oldest() --> segment under replay: [sent ... | next | ...] --all sent--> markSent: removed
 *
 * Damaged batches the spool skipped are reported and counted once, when their segment opens.
 * Records replayed are counted apart (`replayed.exported`, `replayed.dropped`): they were counted
 * as spooled when they went to disk.
 */
import type { Signal } from '../../protocol/index.js';
import type { SignalStats } from '../stats.js';
import type { QueuedBatch } from './memory-buffer.js';
import type { Segment, SegmentSpool, SpooledBatch } from './segment-spool.js';

export interface SpoolReplayerOptions {
  readonly signal: Signal;
  readonly spool: SegmentSpool;
  readonly stats: SignalStats;
  readonly onError: (message: string) => void;
}

export interface SpoolReplayer {
  /** The next batch on disk (the segment under replay opens on the first call), or null when the spool is empty. */
  next(): QueuedBatch | null;
  /**
   * The receiver took (`sent`) or refused the batch `next()` gave: it is counted, and its place
   * on disk marked done unless the spool's bound dropped its segment while it was on the wire.
   */
  settle(batch: QueuedBatch, sent: boolean): void;
  /**
   * The first batch of `segment` (of `written`), which went there while it was on the wire, was
   * taken or refused: it is marked done on disk, and skipped if its segment is under replay.
   */
  settleFirstOf(segment: string, written: number, records: number, sent: boolean): void;
  /** The spool's bound deleted these segments: the one under replay, if among them, is let go. */
  forget(droppedSegments: readonly string[]): void;
  /** Whether a segment is under replay. */
  replaying(): boolean;
  counts(): { readonly exported: number; readonly dropped: number };
}

export function createSpoolReplayer(options: SpoolReplayerOptions): SpoolReplayer {
  const { spool } = options;
  /** The segment under replay, and how many of its batches this replay has settled. */
  let current: { segment: Segment; settled: number } | null = null;
  let exported = 0;
  let dropped = 0;

  function count(records: number, sent: boolean): void {
    if (sent) exported += records;
    else dropped += records;
  }

  /** Opens the oldest segment, reporting its damage; segments with nothing left are removed on the way. */
  function open(): void {
    for (let segment = spool.oldest(); segment !== null; segment = spool.oldest()) {
      if (segment.corrupt > 0) {
        options.onError(`${options.signal} spool: ${segment.corrupt} damaged batches in ${segment.name} skipped`);
        options.stats.dropped('spool_corrupt', segment.corruptRecords);
      }
      if (segment.batches.length > 0) {
        current = { segment, settled: 0 };
        return;
      }
      spool.markSent(segment.name, segment.total, segment.total);
    }
  }

  return {
    next() {
      if (current === null) open();
      if (current === null) return null;
      const batch = current.segment.batches[current.settled] as SpooledBatch;
      return { ...batch, replayed: true, segment: current.segment.name };
    },
    settle(batch, sent) {
      count(batch.records, sent);
      if (current === null || current.segment.name !== batch.segment) return;
      current.settled++;
      const { segment, settled } = current;
      spool.markSent(segment.name, segment.sent + settled, segment.total);
      if (settled >= segment.batches.length) current = null;
    },
    settleFirstOf(segment, written, records, sent) {
      if (current?.segment.name === segment && current.settled === 0) {
        current.settled = 1;
        if (current.segment.batches.length <= 1) current = null;
      }
      spool.markSent(segment, 1, written);
      count(records, sent);
    },
    forget(droppedSegments) {
      if (current !== null && droppedSegments.includes(current.segment.name)) current = null;
    },
    replaying: () => current !== null,
    counts: () => ({ exported, dropped }),
  };
}
